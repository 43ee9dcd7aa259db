import Crypto
import Logging
import NIOCore
import NIOPosix
import TorrentProtocol

/// BEP 15 connection ids that need no memory: an id is the HMAC of the client's address (not its
/// port, which a NAT may change) and the current minute under a secret made at start, so only that client can use it,
/// nobody can forge one, and it lapses by itself: accepted in its minute and the next (one to
/// two minutes, as clients expect), never after.
struct ConnectionIDs: Sendable {
    /// 32 random bytes made at start.
    private let secret: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
    /// The length of a slot, in seconds.
    static let slot = 60

    /// The id for `address` at `now` (seconds on the registry's clock).
    func id(for address: CompactPeer, now: Int) -> UInt64 {
        id(for: address, slot: now / Self.slot)
    }

    /// Whether `id` was given to `address` in this slot or the one before.
    func accepts(_ id: UInt64, from address: CompactPeer, now: Int) -> Bool {
        let slot = now / Self.slot
        return id == self.id(for: address, slot: slot) || id == self.id(for: address, slot: slot - 1)
    }

    private func id(for address: CompactPeer, slot: Int) -> UInt64 {
        var message = ByteBuffer()
        message.writeMultipleIntegers(address.high, address.low, Int64(slot))
        let code = message.withUnsafeReadableBytes { HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: secret)) }
        return code.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// The tracker's UDP front end (BEP 15): connect, announce and scrape over the same
/// ``TorrentSwarms`` as HTTP. A packet too short to answer is dropped; one with a bad or lapsed
/// connection id, an unknown action or bad fields gets an error packet, never peers.
public final class UDPTrackerServer: Sendable {
    /// The address it listens on (with the real port when started on port 0).
    public let localAddress: SocketAddress
    private let channel: Channel

    private init(channel: Channel) {
        self.channel = channel
        localAddress = channel.localAddress!
    }

    /// Binds and starts serving; port 0 picks a free port.
    public static func start(
        host: String, port: Int, swarms: TorrentSwarms, metrics: TrackerMetrics, logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UDPTrackerServer {
        let handler = UDPTrackerHandler(swarms: swarms, metrics: metrics)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Every BEP 15 request fits (a full scrape is 1,496 bytes); a longer datagram is cut
            // here and then refused as a scrape of too many hashes or a malformed one.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .bind(host: host, port: port)
            .get()
        return UDPTrackerServer(channel: channel)
    }

    /// Completes when the socket closes.
    public func closeFuture() async throws {
        try await channel.closeFuture.get()
    }

    /// Stops serving.
    public func shutdown() async {
        try? await channel.close()
    }
}

/// Answers each datagram on its own: nothing is kept per client.
final class UDPTrackerHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let swarms: TorrentSwarms
    private let metrics: TrackerMetrics
    private let ids = ConnectionIDs()

    init(swarms: TorrentSwarms, metrics: TrackerMetrics) {
        self.swarms = swarms
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let read = ContinuousClock.now
        let now = swarms.now
        guard let sender = CompactPeer(envelope.remoteAddress, port: envelope.remoteAddress.port ?? 0) else { return }
        let (answer, kind) = respond(to: envelope.data, from: sender, remote: envelope.remoteAddress, now: now)
        guard let answer else { return }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: answer)), promise: nil)
        if let kind { metrics.answered(.udp, kind, after: ContinuousClock.now - read) }
    }

    /// The answer to one packet (none for one too short), and the request kind it counts as.
    private func respond(to packet: ByteBuffer, from sender: CompactPeer, remote: SocketAddress, now: Int) -> (ByteBuffer?, String?) {
        switch UDPTrackerRequest.read(packet) {
        case .drop:
            metrics.refused(.udp, "short_packet")
            return (nil, nil)
        case .refuse(let transaction, let reason):
            metrics.refused(.udp, "bad_request")
            return (UDPTrackerPacket.error(transaction: transaction, message: reason), nil)
        case .request(.connect(let transaction)):
            return (UDPTrackerPacket.connected(transaction: transaction, connectionID: ids.id(for: sender, now: now)), "connect")
        case .request(.announce(let id, let transaction, let query)):
            guard ids.accepts(id, from: sender, now: now) else { return badID(transaction) }
            // The packet's own address, at the port announced; BEP 15's IP field is not trusted.
            guard let peer = CompactPeer(remote, port: query.port) else {
                return (UDPTrackerPacket.error(transaction: transaction, message: "cannot tell your address"), nil)
            }
            let answer = swarms.announce(query, from: peer, now: now)
            var buffer = ByteBuffer()
            UDPTrackerPacket.writeAnnounced(
                transaction: transaction, interval: swarms.settings.interval, leechers: answer.incomplete, seeders: answer.complete, into: &buffer)
            // Peers of the family the packet came over: 6 bytes each on IPv4, 18 on IPv6.
            for other in answer.peers where other.isIPv6 == sender.isIPv6 { other.write(to: &buffer) }
            return (buffer, "announce")
        case .request(.scrape(let id, let transaction, let hashes)):
            guard ids.accepts(id, from: sender, now: now) else { return badID(transaction) }
            let counts = swarms.scrape(hashes).map { (seeders: $0.complete, completed: $0.downloaded, leechers: $0.incomplete) }
            return (UDPTrackerPacket.scraped(transaction: transaction, counts), "scrape")
        }
    }

    private func badID(_ transaction: UInt32) -> (ByteBuffer?, String?) {
        metrics.refused(.udp, "bad_connection_id")
        return (UDPTrackerPacket.error(transaction: transaction, message: "unknown or expired connection id: connect again"), nil)
    }
}
