import NIOCore
import NIOPosix
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// The sending side of one peer connection: messages are queued in order and written by the
/// connection's own writer task, so the session never waits on a socket.
final class PeerLink: Sendable {
    /// The connection's number in the session.
    let id: Int
    /// The address at the other end (for an incoming peer, its ephemeral port).
    let address: PeerAddress
    /// Whether we dialled it.
    let isOutgoing: Bool
    private let queue: AsyncStream<ByteBuffer>.Continuation

    init(id: Int, address: PeerAddress, isOutgoing: Bool, queue: AsyncStream<ByteBuffer>.Continuation) {
        self.id = id
        self.address = address
        self.isOutgoing = isOutgoing
        self.queue = queue
    }

    /// Queues `message`.
    func send(_ message: PeerMessage) {
        var buffer = ByteBuffer()
        message.write(to: &buffer)
        queue.yield(buffer)
    }

    /// Queues `messages` as one write.
    func send(_ messages: [PeerMessage]) {
        guard !messages.isEmpty else { return }
        var buffer = ByteBuffer()
        for message in messages { message.write(to: &buffer) }
        queue.yield(buffer)
    }

    /// Ends the connection once what is queued is written.
    func close() { queue.finish() }
}

/// Opening peer connections, in and out, with the peer wire codec in front.
enum PeerSockets {
    typealias Channel = NIOAsyncChannel<PeerWireFrame, ByteBuffer>

    /// Dials `address` within `timeout`.
    static func connect(to address: PeerAddress, maximumLength: Int, timeout: Duration = .seconds(5)) async throws -> Channel {
        let socketAddress = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(timeout.seconds * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(to: socketAddress) { channel in
                channel.eventLoop.makeCompletedFuture { try wrap(channel, maximumLength: maximumLength) }
            }
    }

    /// Listens on `host`:`port` (0 picks one); each connection comes as a channel ready to read.
    static func listen(host: String, port: Int, maximumLength: Int) async throws -> NIOAsyncChannel<Channel, Never> {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 128)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try wrap(channel, maximumLength: maximumLength) }
            }
    }

    private static func wrap(_ channel: any NIOCore.Channel, maximumLength: Int) throws -> Channel {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerWireDecoder(maximumLength: maximumLength)))
        return try Channel(wrappingChannelSynchronously: channel)
    }
}
