import Logging
import NIOCore
import NIOPosix
import SwarmProtocol

/// Why a tracker question got no answer.
public enum TrackerClientError: Error, Equatable, CustomStringConvertible {
    /// There is no connection to the tracker right now; ask again later.
    case notConnected
    /// The connection dropped before the answer came.
    case disconnected(reason: String)
    /// The tracker did not answer in time.
    case noAnswer(after: Duration)
    /// The connection's local address cannot be registered (``Advertisement/connectionAddress(port:)``).
    case unregistrableAddress(String)

    public var description: String {
        switch self {
        case .notConnected: return "tracker not connected"
        case .disconnected(let reason): return "tracker connection lost: \(reason)"
        case .noAnswer(let delay): return "tracker gave no answer within \(delay.secondsText)"
        case .unregistrableAddress(let host): return "cannot register our chunks under this connection's address \(host)"
        }
    }
}

/// The address a client registers its chunks under with one tracker.
public enum Advertisement: Sendable, Equatable {
    /// Always this address (`-advertise`).
    case fixed(PeerAddress)
    /// The local address of each connection to the tracker, with this port: the address the
    /// tracker's host reaches us by, so the other peers it tells of us can too.
    case connectionAddress(port: Int)

    /// The address to register for a connection whose local end is `local`; `nil` when that end
    /// has no address a peer could dial (a link-local IPv6 address with a scope, say).
    ///
    /// A loopback connection registers `127.0.0.1`, as clients always have on one machine (a
    /// seed-era peer dials IPv4 only), and an IPv4 address mapped into IPv6 registers as IPv4.
    public func address(forLocal local: SocketAddress?) -> PeerAddress? {
        switch self {
        case .fixed(let address):
            return address
        case .connectionAddress(let port):
            guard var host = local?.ipAddress else { return nil }
            if host.hasPrefix("::ffff:"), host.contains(".") { host.removeFirst("::ffff:".count) }
            if PeerAddress.isLoopback(host) { host = "127.0.0.1" }
            return PeerAddress(host: host, port: port)
        }
    }
}

/// The client's persistent connection to one tracker.
///
/// It follows the wire rules that keep seed-era trackers working: every message is one write of
/// exactly its bytes; the connection opens with one classic `WHERE_CHUNK`, and only if the answer
/// ends in `\n` (our own tracker) are `\n`-terminated messages pipelined afterwards. Otherwise it
/// never leaves two messages unread: after `WHERE_CHUNK` it waits for the whole answer, after
/// `LOCAL_CHUNKS` it pauses. It reconnects with backoff when the link drops and then registers
/// again everything it holds.
public actor TrackerClient {
    private enum Operation: Equatable {
        case register(ChunkIndex)
        case locate(ChunkIndex)
    }

    /// The tracker's address.
    public nonisolated let tracker: PeerAddress
    private let advertisement: Advertisement
    /// The address our chunks are registered under on the current connection (kept after it drops).
    public private(set) var registeredAs: PeerAddress?
    private let probeIndex: ChunkIndex
    private let logger: Logger
    private let onState: @Sendable (TrackerState) -> Void
    private let group: EventLoopGroup
    private let backoff: Backoff
    private let answerTimeout: Duration
    private let registrationPause: Duration

    private var registrations: [ChunkIndex: SHA1Digest] = [:]
    private var queue: [Operation] = []
    private var waiters: [ChunkIndex: [(token: Int, continuation: CheckedContinuation<TrackerAnswer, Error>)]] = [:]
    private var writerWaiter: (token: Int, continuation: CheckedContinuation<Framed<TrackerAnswer>, Error>)?
    private var nextToken = 0
    /// Whether the link is up (the opening question answered).
    public private(set) var isConnected = false
    private var fastPath = false
    /// The current connection, closed when a pipelined question goes unanswered.
    private var channel: Channel?
    /// Why the current connection was closed from this side, if it was.
    private var closeReason: String?
    /// Wakes the current session's writer. A new stream per session: cancelling the iteration of
    /// an `AsyncStream` finishes it for good.
    private var wake: AsyncStream<Void>.Continuation?

    /// - Parameters:
    ///   - tracker: where the tracker listens.
    ///   - advertisement: the address registered for our chunks.
    ///   - probeIndex: the chunk asked about when a connection opens; one nobody holds (N+1), so a
    ///     seed-era tracker's answer echoes nothing another peer sent.
    ///   - onState: told of every change of the link's state.
    public init(
        tracker: PeerAddress,
        advertisement: Advertisement,
        probeIndex: ChunkIndex,
        logger: Logger,
        backoff: Backoff = Backoff(),
        answerTimeout: Duration = .seconds(10),
        registrationPause: Duration = .milliseconds(300),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onState: @escaping @Sendable (TrackerState) -> Void
    ) {
        self.tracker = tracker
        self.advertisement = advertisement
        self.probeIndex = probeIndex
        self.logger = logger
        self.backoff = backoff
        self.answerTimeout = answerTimeout
        self.registrationPause = registrationPause
        self.group = group
        self.onState = onState
    }

    /// Whether answers may be pipelined (our own tracker) rather than asked one at a time.
    public var isFastPath: Bool { isConnected && fastPath }

    /// Registers chunk `index` with `digest` now, and again after every reconnect.
    public func register(_ index: ChunkIndex, _ digest: SHA1Digest) {
        registrations[index] = digest
        guard isConnected else { return }
        queue.append(.register(index))
        wake?.yield()
    }

    /// Registers many chunks at once (start-up).
    public func register(_ digests: [ChunkIndex: SHA1Digest]) {
        for (index, digest) in digests { register(index, digest) }
    }

    /// Asks the tracker where chunk `index` is.
    ///
    /// Our own tracker answers pipelined questions at once: one unanswered within the answer
    /// timeout closes the connection (the tracker is stuck), and it is dialled again.
    ///
    /// - Throws: ``TrackerClientError`` when there is no connection or it drops, ask again later;
    ///   `CancellationError` when the task asking is cancelled.
    public func locate(_ index: ChunkIndex) async throws -> TrackerAnswer {
        guard isConnected else { throw TrackerClientError.notConnected }
        nextToken += 1
        let token = nextToken
        let timer: Task<Void, Never>? =
            fastPath
            ? Task { [weak self, answerTimeout] in
                guard (try? await Task.sleep(for: answerTimeout)) != nil else { return }
                await self?.expireLocate(index, token: token, stuck: true)
            } : nil
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard !Task.isCancelled else { return continuation.resume(throwing: CancellationError()) }
                let alreadyAsked = waiters[index] != nil
                waiters[index, default: []].append((token, continuation))
                if !alreadyAsked {
                    queue.append(.locate(index))
                    wake?.yield()
                }
            }
        } onCancel: {
            Task { await self.expireLocate(index, token: token, stuck: false) }
        }
    }

    /// Gives up waiting for the answer to question `token`: the asker no longer wants it, or
    /// the tracker is `stuck` and its connection is closed.
    private func expireLocate(_ index: ChunkIndex, token: Int, stuck: Bool) {
        guard let position = waiters[index]?.firstIndex(where: { $0.token == token }) else { return }
        let waiter = waiters[index]!.remove(at: position)
        if waiters[index]!.isEmpty { waiters[index] = nil }
        guard stuck else { return waiter.continuation.resume(throwing: CancellationError()) }
        let error = TrackerClientError.noAnswer(after: answerTimeout)
        waiter.continuation.resume(throwing: error)
        closeReason = error.description
        channel?.close(promise: nil)
    }

    /// Keeps the connection up until the task is cancelled.
    public func run() async {
        var attempt = 0
        while !Task.isCancelled {
            onState(.connecting)
            var reason = "connection closed by the tracker"
            do {
                let channel = try await connect()
                guard let address = advertisement.address(forLocal: channel.channel.localAddress) else {
                    channel.channel.close(promise: nil)
                    throw TrackerClientError.unregistrableAddress(channel.channel.localAddress?.description ?? "unknown")
                }
                registeredAs = address
                self.channel = channel.channel
                closeReason = nil
                attempt = 0
                try await session(on: channel)
            } catch {
                reason = closeReason ?? Self.describe(error)
            }
            endSession(reason: reason)
            guard !Task.isCancelled else { break }
            let delay = backoff.delay(attempt: attempt)
            attempt += 1
            logger.warning("tracker \(tracker): \(reason); retrying in \(delay.secondsText)")
            onState(.retrying(in: delay, reason: reason))
            try? await Task.sleep(for: delay)
        }
    }

    private func connect() async throws -> NIOAsyncChannel<Framed<TrackerAnswer>, ByteBuffer> {
        try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(3))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: tracker.host, port: tracker.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        MessageFramingHandler<TrackerAnswer>(newlines: .endWholeMessage, quietPeriod: .milliseconds(50))
                    )
                    return try NIOAsyncChannel<Framed<TrackerAnswer>, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private func session(on channel: NIOAsyncChannel<Framed<TrackerAnswer>, ByteBuffer>) async throws {
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await answer in inbound { await self.deliver(answer) }
                    throw TrackerClientError.disconnected(reason: "connection closed by the tracker")
                }
                group.addTask { try await self.writeLoop(outbound) }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    private func writeLoop(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        defer { wake.finish() }
        let probe = try await exchange(.whereChunk(probeIndex), on: outbound)
        fastPath = probe.terminated
        isConnected = true
        onState(.connected(fastPath: fastPath))
        logger.info("connected to tracker \(tracker)\(fastPath ? "" : " (seed-era: one message at a time)"); registering our chunks as \(registeredAs!)")

        // Re-register everything held; queued registrations are covered by this.
        queue.removeAll { if case .register = $0 { return true } else { return false } }
        try await send(registrations.keys.sorted().map(Operation.register), on: outbound)

        for await _ in wakeups {
            while !queue.isEmpty {
                let batch = fastPath ? queue : [queue[0]]
                queue.removeFirst(batch.count)
                try await send(batch, on: outbound)
            }
        }
    }

    private func send(_ operations: [Operation], on outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        if fastPath {
            var buffer = ByteBuffer()
            for operation in operations {
                let request = self.request(for: operation)
                logger.info("\(request.wireText)")
                request.encode(into: &buffer, terminated: true)
            }
            if buffer.readableBytes > 0 { try await outbound.write(buffer) }
            return
        }
        for operation in operations {
            let request = self.request(for: operation)
            switch operation {
            case .register:
                logger.info("\(request.wireText)")
                try await outbound.write(request.encoded(terminated: false))
                try await Task.sleep(for: registrationPause)
            case .locate:
                _ = try await exchange(request, on: outbound)
            }
        }
    }

    private func request(for operation: Operation) -> TrackerRequest {
        switch operation {
        case .register(let index): return .localChunks(index, registrations[index]!, holder: registeredAs!)
        case .locate(let index): return .whereChunk(index)
        }
    }

    /// Writes one request and waits for its whole answer before anything else is written.
    private func exchange(
        _ request: TrackerRequest,
        on outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws -> Framed<TrackerAnswer> {
        logger.info("\(request.wireText)")
        nextToken += 1
        let token = nextToken
        let timeout = answerTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.expireWriterWaiter(token: token)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            writerWaiter = (token, continuation)
            Task { try await outbound.write(request.encoded(terminated: fastPath)) }
        }
    }

    private func expireWriterWaiter(token: Int) {
        guard let waiter = writerWaiter, waiter.token == token else { return }
        writerWaiter = nil
        waiter.continuation.resume(throwing: TrackerClientError.noAnswer(after: answerTimeout))
    }

    private func deliver(_ framed: Framed<TrackerAnswer>) {
        logger.info("\(framed.message.wireText)")
        if let waiter = writerWaiter {
            writerWaiter = nil
            waiter.continuation.resume(returning: framed)
        }
        for waiter in waiters.removeValue(forKey: framed.message.index) ?? [] {
            waiter.continuation.resume(returning: framed.message)
        }
    }

    private func endSession(reason: String) {
        isConnected = false
        channel = nil
        wake = nil
        queue.removeAll()
        if let waiter = writerWaiter {
            writerWaiter = nil
            waiter.continuation.resume(throwing: TrackerClientError.disconnected(reason: reason))
        }
        let pending = waiters
        waiters.removeAll()
        for waiter in pending.values.joined() {
            waiter.continuation.resume(throwing: TrackerClientError.disconnected(reason: reason))
        }
    }

    private static func describe(_ error: Error) -> String {
        if let error = error as? TrackerClientError {
            if case .disconnected(let reason) = error { return reason }
            return error.description
        }
        return ConnectionErrorText.describe(error)
    }
}
