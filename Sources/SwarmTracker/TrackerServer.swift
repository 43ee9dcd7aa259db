import Logging
import NIOCore
import NIOPosix
import SwarmProtocol

/// The tracker's listening socket: one ``TrackerConnectionHandler`` per client over one shared
/// ``TrackerRegistry``.
///
/// ```swift
/// let server = try await TrackerServer.start(host: "127.0.0.1", port: 5100, registry: TrackerRegistry(), logger: logger)
/// try await server.closeFuture()   // until shutdown() is called
/// ```
public final class TrackerServer: Sendable {
    /// The registry the server answers from.
    public let registry: TrackerRegistry
    /// The address it listens on (with the real port when started on port 0).
    public let localAddress: SocketAddress
    /// Questions and registrations since it was last asked.
    public let activity: TrackerActivity
    private let channel: Channel
    private let connections: ConnectionCounter

    private init(registry: TrackerRegistry, channel: Channel, activity: TrackerActivity, connections: ConnectionCounter) {
        self.registry = registry
        self.channel = channel
        self.activity = activity
        self.connections = connections
        self.localAddress = channel.localAddress!
    }

    /// Client connections open now.
    public var openConnections: Int { connections.current }

    /// Binds and starts serving; port 0 picks a free port. With a `monitor`, the holders a
    /// connection registered are checked when it closes. Every question and answer is recorded
    /// in `messages`, by default as info lines on `logger`; requests and refusals are counted in
    /// `metrics` when given.
    public static func start(
        host: String,
        port: Int,
        registry: TrackerRegistry,
        quietPeriod: TimeAmount = .milliseconds(10),
        monitor: HolderMonitor? = nil,
        limits: TrackerLimits = TrackerLimits(),
        logger: Logger,
        messages: MessageLog? = nil,
        metrics: TrackerMetrics? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TrackerServer {
        let connections = ConnectionCounter()
        let activity = TrackerActivity(metrics: metrics)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.admit(limit: limits.maxConnections) else {
                    metrics?.refused(.classic, "too_many_connections")
                    logger.warning("refusing a connection: \(limits.maxConnections) already open")
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        MessageFramingHandler<TrackerRequest>(newlines: .alwaysEnd, quietPeriod: quietPeriod),
                        TrackerConnectionHandler(
                            registry: registry, logger: logger, messages: messages, limits: limits, activity: activity
                        ) { holders in
                            guard let monitor else { return }
                            Task { await monitor.check(holders) }
                        }
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return TrackerServer(registry: registry, channel: channel, activity: activity, connections: connections)
    }

    /// Completes when the listening socket closes.
    public func closeFuture() async throws {
        try await channel.closeFuture.get()
    }

    /// Stops listening.
    public func shutdown() async {
        try? await channel.close()
    }
}
