import Logging
import NIOCore
import SwarmProtocol

/// Answers one client's tracker requests against the shared ``TrackerRegistry``.
///
/// Framing happens before it (``MessageFramingHandler``); bad bytes arrive here as an error and
/// close this connection only. Answers end in `\n`, which tells our own clients they may pipeline.
final class TrackerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Framed<TrackerRequest>
    typealias OutboundOut = ByteBuffer

    private let registry: TrackerRegistry
    private let logger: Logger
    private let messages: MessageLog
    private let limits: TrackerLimits
    private let activity: TrackerActivity
    private let onClose: @Sendable (Set<PeerAddress>) -> Void
    /// Holders registered through this connection, checked when it closes.
    private var registered: Set<PeerAddress> = []
    private var registrations = 0
    private var idleTimer: Scheduled<Void>?
    /// Answers written since the last flush: one flush per read burst, so a client that
    /// pipelines a hundred questions gets its answers in one write.
    private var unflushed = false

    init(
        registry: TrackerRegistry,
        logger: Logger,
        messages: MessageLog? = nil,
        limits: TrackerLimits = TrackerLimits(),
        activity: TrackerActivity = TrackerActivity(),
        onClose: @escaping @Sendable (Set<PeerAddress>) -> Void = { _ in }
    ) {
        self.registry = registry
        self.logger = logger
        self.messages = messages ?? MessageLog(logger: logger)
        self.limits = limits
        self.activity = activity
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let timeout = limits.idleTimeout
        idleTimer = context.eventLoop.scheduleTask(in: timeout) { [logger, activity] in
            let context = loopBound.value
            activity.countRefusal("idle")
            logger.warning("closing \(Self.describe(context.remoteAddress)): nothing valid within \(timeout.nanoseconds / 1_000_000_000) s")
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !registered.isEmpty { onClose(registered) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data).message
        // A valid message: this is a real client, whose link may then stay idle while it seeds.
        idleTimer?.cancel()
        idleTimer = nil
        messages(request.wireText)
        switch request {
        case .localChunks(let index, let digest, let holder):
            activity.countRegistration()
            registrations += 1
            guard registrations <= limits.maxRegistrationsPerConnection else {
                activity.countRefusal("too_many_registrations")
                logger.warning("closing \(Self.describe(context.remoteAddress)): more than \(limits.maxRegistrationsPerConnection) registrations")
                closeAfterAnswers(context)
                return
            }
            let outcome = registry.register(index, digest, holder: holder)
            registered.insert(holder)
            if case .changedDigest(let previous) = outcome {
                logger.warning("holder \(holder) changed its SHA-1 for chunk \(index) from \(previous) to \(digest)")
            }
            let digests = registry.digests(for: index)
            if outcome != .unchanged, digests.count > 1 {
                let summary = digests.map { "\($0.digest) (\($0.holders) holder\($0.holders == 1 ? "" : "s"))" }
                logger.warning(
                    "conflicting SHA-1 for chunk \(index): \(summary.joined(separator: ", ")); answering with the majority"
                )
            }
        case .whereChunk(let index):
            let read = ContinuousClock.now
            let answer = registry.wireAnswer(for: index)
            messages(answer.text)
            context.write(wrapOutboundOut(answer.bytes), promise: nil)
            unflushed = true
            activity.countQuestion(answeredAfter: ContinuousClock.now - read)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers(context)
        context.fireChannelReadComplete()
    }

    private func flushAnswers(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// Closes the connection once the answers written so far are on their way.
    private func closeAfterAnswers(_ context: ChannelHandlerContext) {
        flushAnswers(context)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client half-closed: every answer it asked for is already written.
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            closeAfterAnswers(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        activity.countRefusal(error is WireError ? "bad_message" : "connection_error")
        logger.warning("closing \(Self.describe(context.remoteAddress)): \(error)")
        closeAfterAnswers(context)
    }

    private static func describe(_ address: SocketAddress?) -> String {
        PeerAddress(remote: address)?.description ?? "a connection"
    }
}
