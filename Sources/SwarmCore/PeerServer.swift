import Logging
import NIOCore
import NIOPosix
import SwarmProtocol

/// What happened to one `REQUEST_CHUNK` this peer received.
public struct ServeReport: Sendable, Equatable {
    /// How it ended.
    public enum Outcome: Sendable, Equatable {
        /// The chunk's bytes were sent.
        case served(bytes: Int)
        /// Nothing was sent; the reason says why.
        case refused(reason: String)
    }

    /// The requested chunk (absent when the request itself was bad).
    public let index: ChunkIndex?
    /// The requesting peer's address, as seen on the socket.
    public let peer: String
    /// How it ended.
    public let outcome: Outcome

    public init(index: ChunkIndex?, peer: String, outcome: Outcome) {
        self.index = index
        self.peer = peer
        self.outcome = outcome
    }
}

/// Serves `REQUEST_CHUNK,<i>` on the transfer port: the chunk's raw bytes, sent with zero copy
/// (`sendfile` through `FileRegion`), then the connection closes.
///
/// Only chunks the folder lists are served; anything else closes the connection with no data.
public final class PeerServer: Sendable {
    /// The address it listens on.
    public let localAddress: SocketAddress
    private let channel: Channel

    private init(channel: Channel) {
        self.channel = channel
        self.localAddress = channel.localAddress!
    }

    /// Binds `host:port` and serves the chunks `lookup` names.
    ///
    /// - Parameters:
    ///   - lookup: the file holding a chunk, or `nil` when it is not listed; called on event loops.
    ///   - onServe: told of every request served or refused.
    ///   - uploadLimit: paces every transfer of this server together, if set.
    ///   - quietPeriod: how long a seed-era client, which neither terminates its request nor
    ///     half-closes, must pause before its request counts as whole.
    public static func start(
        host: String,
        port: Int,
        lookup: @escaping @Sendable (ChunkIndex) -> String?,
        onServe: @escaping @Sendable (ServeReport) -> Void,
        requestTimeout: TimeAmount = .seconds(10),
        quietPeriod: TimeAmount = .milliseconds(10),
        uploadLimit: TokenBucket? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton
    ) async throws -> PeerServer {
        let fileIO = NonBlockingFileIO(threadPool: threadPool)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        MessageFramingHandler<PeerRequest>(newlines: .alwaysEnd, quietPeriod: quietPeriod),
                        ChunkServingHandler(
                            lookup: lookup,
                            onServe: onServe,
                            fileIO: fileIO,
                            requestTimeout: requestTimeout,
                            uploadLimit: uploadLimit
                        )
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return PeerServer(channel: channel)
    }

    /// Stops listening. Transfers under way finish on their own.
    public func shutdown() async {
        try? await channel.close()
    }
}

/// Answers the one request of a peer connection.
///
/// Without a limit the whole file goes as one `FileRegion` (sendfile); with one, as 16 KiB
/// regions paced by the shared ``TokenBucket``, still without copying.
final class ChunkServingHandler: ChannelInboundHandler {
    private static let sliceSize = 16 * 1024

    typealias InboundIn = Framed<PeerRequest>
    typealias OutboundOut = IOData

    private let lookup: @Sendable (ChunkIndex) -> String?
    private let onServe: @Sendable (ServeReport) -> Void
    private let fileIO: NonBlockingFileIO
    private let requestTimeout: TimeAmount
    private let uploadLimit: TokenBucket?
    private var answered = false
    private var timeout: Scheduled<Void>?

    init(
        lookup: @escaping @Sendable (ChunkIndex) -> String?,
        onServe: @escaping @Sendable (ServeReport) -> Void,
        fileIO: NonBlockingFileIO,
        requestTimeout: TimeAmount,
        uploadLimit: TokenBucket? = nil
    ) {
        self.uploadLimit = uploadLimit
        self.lookup = lookup
        self.onServe = onServe
        self.fileIO = fileIO
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: requestTimeout) {
            let (handler, context) = loopBound.value
            handler.refuse(context: context, index: nil, reason: "no request within \(handler.requestTimeout)")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        timeout?.cancel()
        let index: ChunkIndex
        switch unwrapInboundIn(data).message {
        case .requestChunk(let requested): index = requested
        }
        guard let path = lookup(index) else {
            refuse(context: context, index: index, reason: "chunk \(index) is not listed here")
            return
        }
        let peer = Self.describe(context.remoteAddress)
        fileIO.openFile(_deprecatedPath: path, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .failure(let error):
                self.refuse(context: context, index: index, reason: "cannot open \(path): \(error)")
            case .success(let (handle, region)):
                self.send(region, from: handle, context: context) { result in
                    try? handle.close()
                    switch result {
                    case .success:
                        self.onServe(ServeReport(index: index, peer: peer, outcome: .served(bytes: region.readableBytes)))
                    case .failure(let error):
                        self.onServe(ServeReport(index: index, peer: peer, outcome: .refused(reason: "send failed: \(error)")))
                    }
                    context.close(promise: nil)
                }
            }
        }
    }

    /// Sends `region` whole, or in paced slices under an upload limit; calls `done` once.
    private func send(
        _ region: FileRegion,
        from handle: NIOFileHandle,
        context: ChannelHandlerContext,
        done: @escaping (Result<Void, Error>) -> Void
    ) {
        guard let uploadLimit else {
            context.writeAndFlush(wrapOutboundOut(.fileRegion(region))).assumeIsolated().whenComplete(done)
            return
        }
        guard region.readerIndex < region.endIndex else {
            done(.success(()))
            return
        }
        let end = min(region.endIndex, region.readerIndex + Self.sliceSize)
        let slice = FileRegion(fileHandle: handle, readerIndex: region.readerIndex, endIndex: end)
        var rest = region
        rest.moveReaderIndex(forwardBy: end - region.readerIndex)
        let wait = uploadLimit.reserve(end - slice.readerIndex)
        let loopBound = NIOLoopBound((self, context, rest), eventLoop: context.eventLoop)
        let write = {
            let (handler, context, rest) = loopBound.value
            guard context.channel.isActive else { return done(.failure(ChannelError.ioOnClosedChannel)) }
            context.writeAndFlush(handler.wrapOutboundOut(.fileRegion(slice))).assumeIsolated().whenComplete { result in
                switch result {
                case .success: handler.send(rest, from: handle, context: context, done: done)
                case .failure: done(result)
                }
            }
        }
        if wait == .zero {
            write()
        } else {
            context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(wait.seconds * 1e9))) { write() }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A connection closed without a request is a port check (the tracker's), not an event.
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent, !answered {
            answered = true
            timeout?.cancel()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        refuse(context: context, index: nil, reason: "\(error)")
    }

    private func refuse(context: ChannelHandlerContext, index: ChunkIndex?, reason: String) {
        answered = true
        timeout?.cancel()
        onServe(ServeReport(index: index, peer: Self.describe(context.remoteAddress), outcome: .refused(reason: reason)))
        context.close(promise: nil)
    }

    private static func describe(_ address: SocketAddress?) -> String {
        PeerAddress(remote: address)?.description ?? "unknown peer"
    }
}
