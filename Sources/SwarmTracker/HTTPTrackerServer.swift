import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TorrentProtocol

/// Bounds on what one HTTP client may send, whatever it sends.
public struct HTTPTrackerLimits: Sendable {
    /// The longest request line or header line, in bytes.
    public var maxLineBytes = 8 << 10
    /// The most bytes of headers, request line included.
    public var maxHeaderBytes = 16 << 10
    /// The most header lines.
    public var maxHeaders = 100
    /// The time a client has to send a whole request, and to start the next on a kept-alive
    /// connection; past it, the connection is closed.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// The most info-hashes in one scrape.
    public var maxScrapeHashes = 100
    /// Connections open at once; more are closed as they arrive.
    public var maxConnections = 4096

    public init() {}
}

/// The tracker's HTTP front end: BitTorrent's `GET /announce` (BEP 3, 23, 7) and `GET /scrape`
/// (BEP 48) over a ``TorrentSwarms``, `GET /metrics` (Prometheus text) and `GET /` (a status
/// page), on NIO's HTTP/1.1 codec with keep-alive.
///
/// ```swift
/// let server = try await HTTPTrackerServer.start(host: "127.0.0.1", port: 6969, swarms: TorrentSwarms(), metrics: TrackerMetrics(), logger: logger)
/// ```
public final class HTTPTrackerServer: Sendable {
    /// The address it listens on (with the real port when started on port 0).
    public let localAddress: SocketAddress
    private let channel: Channel
    private let connections: ConnectionCounter

    private init(channel: Channel, connections: ConnectionCounter) {
        self.channel = channel
        self.connections = connections
        localAddress = channel.localAddress!
    }

    /// Connections open now.
    public var openConnections: Int { connections.current }

    /// Binds and starts serving; port 0 picks a free port. `snapshot` gives the figures the
    /// metrics' gauges and the status page show; `allowClaimedAddress` lets an announce's `ip=`
    /// stand for the address it came from.
    public static func start(
        host: String,
        port: Int,
        swarms: TorrentSwarms,
        metrics: TrackerMetrics,
        snapshot: @escaping @Sendable () -> TrackerMetrics.Snapshot = { TrackerMetrics.Snapshot() },
        allowClaimedAddress: Bool = false,
        limits: HTTPTrackerLimits = HTTPTrackerLimits(),
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPTrackerServer {
        let connections = ConnectionCounter()
        let decoderLimits = {
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = limits.maxLineBytes
            decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
            decoderLimits.maxHeaderFieldCount = limits.maxHeaders
            return decoderLimits
        }()
        let started = ContinuousClock.now
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard connections.admit(limit: limits.maxConnections) else {
                    metrics.refused(.http, "too_many_connections")
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: true, withErrorHandling: true,
                        // Our headers are fixed and valid: checking each answer's costs about 7% of an announce.
                        withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: decoderLimits)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPTrackerHandler(
                            swarms: swarms, metrics: metrics, limits: limits, allowClaimedAddress: allowClaimedAddress, started: started,
                            logger: logger,
                            snapshot: {
                                var figures = snapshot()
                                figures.connections[.http] = connections.current
                                return figures
                            }))
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPTrackerServer(channel: channel, connections: connections)
    }

    /// Completes when the listening socket closes.
    public func closeFuture() async throws {
        try await channel.closeFuture.get()
    }

    /// Stops accepting connections.
    public func shutdown() async {
        try? await channel.close()
    }
}
