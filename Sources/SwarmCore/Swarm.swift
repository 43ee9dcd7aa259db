import Logging
import NIOCore
import NIOPosix
import SwarmProtocol

/// The client engine: serves the chunks a folder holds, registers them, and fetches the missing
/// ones from other peers, telling its consumers everything through ``events``.
///
/// The engine knows nothing of the screen. The TUI and the headless printer both read ``events``;
/// commands come in as plain method calls (``pause()``, ``resume()``, ``request(_:)``).
///
/// ```swift
/// let swarm = Swarm(configuration: configuration, store: try ChunkStore.open(folder: "client1_chunks"), logger: logger)
/// Task { for await event in swarm.events { print(event) } }
/// try await swarm.run()   // until cancelled, or until complete with `exitWhenComplete`
/// ```
///
/// Its parts, one file each: the configuration and errors (`Swarm+Configuration.swift`), what to
/// fetch next and from whom (`Swarm+Scheduling.swift`), one chunk's fetch
/// (`Swarm+Fetching.swift`) and the tracker link's state and survey (`Swarm+TrackerLink.swift`).
public actor Swarm {
    /// Everything that happens, in order. One consumer.
    public nonisolated let events: AsyncStream<SwarmEvent>
    let sink: AsyncStream<SwarmEvent>.Continuation

    let configuration: Configuration
    let store: ChunkStore
    let logger: Logger
    var trackers: TrackerLinks?
    /// Each tracker link's last state, in the order of ``Configuration/trackers``.
    var linkStates: [TrackerState] = []
    /// Whether any tracker link is up: fetching starts only then, so nothing is postponed for
    /// want of a tracker that is still being dialled.
    var trackerConnected = false
    /// The transfer port, once bound.
    var boundPort: Int?
    /// The addresses our chunks are registered under (one per tracker link, or `-advertise`).
    var ownAddresses: Set<PeerAddress> = []

    var held: Set<ChunkIndex> = []
    var inFlight: Set<ChunkIndex> = []
    var availability: [ChunkIndex: Int] = [:]
    var locatedAt: [ChunkIndex: ContinuousClock.Instant] = [:]
    var retryAt: [ChunkIndex: ContinuousClock.Instant] = [:]
    var attempts: [ChunkIndex: Int] = [:]
    /// Chunks the user asked for, in order, until held: one that nobody holds yet or whose
    /// fetch failed is tried again after its back-off, even while paused.
    var requested: [ChunkIndex] = []
    /// The largest chunk fetched so far, in bytes: what the next one probably weighs.
    var largestChunk: Int?
    var paused: Bool
    /// Lowest index first instead of rarest first.
    var sequential = false
    var badChunks: [PeerAddress: Int] = [:]
    var banned: Set<PeerAddress> = []
    var activePerPeer: [PeerAddress: Int] = [:]
    var fetches: [ChunkIndex: Task<Void, Never>] = [:]
    /// The holder each in-flight chunk is being fetched from (its first fetch), and since when.
    var firstFetches: [ChunkIndex: (holder: PeerAddress, since: ContinuousClock.Instant)] = [:]
    /// Endgame: second fetches of the last chunks, from another holder.
    var duplicates: [ChunkIndex: Task<Void, Never>] = [:]
    /// How many fetches may run at once, widened on a long link.
    var fetchWindow: FetchWindow
    /// Which first fetches are slow enough for a second copy.
    var endgame = EndgamePolicy()
    /// Chunks being committed now, so a second fetch finishing meanwhile is dropped.
    var committing: Set<ChunkIndex> = []
    /// The chunks the last plan ranked after those it started.
    var upcoming = UpcomingPicks()
    var announcedComplete = false
    let wakeups: AsyncStream<Void>
    let wake: AsyncStream<Void>.Continuation

    /// An engine for the folder `store`, configured by `configuration`; `logger` receives protocol
    /// lines (`WHERE_CHUNK,3`) and diagnostics.
    public init(configuration: Configuration, store: ChunkStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.paused = configuration.startPaused
        self.fetchWindow = configuration.fetchWindow
        (events, sink) = AsyncStream.makeStream(of: SwarmEvent.self)
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Serves and fetches until the task is cancelled, or until complete with `exitWhenComplete`.
    ///
    /// - Throws: when the folder cannot be hashed, or ``ListenFailure`` when the transfer port
    ///   cannot be listened on.
    public func run() async throws {
        defer { sink.finish() }
        let digests = try await store.hashHeldChunks()
        held = Set(digests.keys)
        let server = try await startServer()
        guard let boundPort = server.localAddress.port else { throw SwarmError.badAdvertisedAddress(configuration.listenHost) }
        self.boundPort = boundPort
        let advertisement: Advertisement
        if let host = configuration.advertiseHost {
            guard let fixed = PeerAddress(host: host, port: boundPort) else { throw SwarmError.badAdvertisedAddress(host) }
            advertisement = .fixed(fixed)
        } else {
            advertisement = .connectionAddress(port: boundPort)
        }
        // The links' states, in order, for the scheduler.
        let (linkStateStream, linkStates) = AsyncStream.makeStream(of: (link: Int, state: TrackerState).self)
        let trackers = TrackerLinks(
            configuration.trackers.enumerated().map { link, address in
                TrackerClient(
                    tracker: address,
                    advertisement: advertisement,
                    probeIndex: ChunkIndex(min(store.total + 1, ChunkIndex.maximum)),
                    logger: logger,
                    backoff: configuration.trackerBackoff,
                    onState: { linkStates.yield((link, $0)) }
                )
            }
        )
        self.trackers = trackers
        self.linkStates = Array(repeating: .connecting, count: configuration.trackers.count)
        emit(
            .started(
                name: configuration.name,
                folder: store.folder,
                total: store.total,
                held: held,
                serving: PeerAddress(host: configuration.advertiseHost ?? server.localAddress.ipAddress ?? "0.0.0.0", port: boundPort)!
            )
        )
        if paused { emit(.paused(true)) }
        await trackers.register(digests)
        emit(.registered(count: digests.count))

        let trackerTasks = trackers.clients.map { client in Task { await client.run() } }
        let trackerWatch = Task { for await (link, state) in linkStateStream { await self.linkChanged(link, to: state) } }
        let listWatch = Task { [store] in for await failure in store.listWriteFailures { self.reportListProblem(failure) } }
        let survey = Task { await self.surveyLoop() }
        let ticker = Task { [wake] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                wake.yield()
            }
        }
        defer {
            trackerWatch.cancel()
            listWatch.cancel()
            survey.cancel()
            ticker.cancel()
        }
        wake.yield()
        for await _ in wakeups {
            schedule()
            if held.count == store.total {
                await announceComplete()
                if configuration.exitWhenComplete { break }
            }
        }
        // Nothing touches the folder once run returns: the fetches under way end first (each
        // removes its partial file, or commits its chunk), with the tracker connection closed
        // so that none waits for an answer; then the last chunks are listed.
        for task in trackerTasks { task.cancel() }
        await stopFetches()
        await server.shutdown()
        try await store.close()
    }

    /// Binds the transfer port on the configured address; on every address, IPv4 alone where
    /// the dual-stack socket cannot be had (IPv6 missing).
    private func startServer() async throws -> PeerServer {
        let sink = self.sink
        let logger = self.logger
        var hosts = [configuration.listenHost]
        if configuration.listenHost == Configuration.everyAddress { hosts.append("0.0.0.0") }
        var failure: Error?
        for host in hosts {
            do {
                return try await PeerServer.start(
                    host: host,
                    port: configuration.transferPort,
                    lookup: { [store] in store.servingPath(for: $0) },
                    onServe: { report in
                        switch report.outcome {
                        case .served(let bytes):
                            logger.info("served chunk \(report.index!) (\(bytes) bytes) to \(report.peer)")
                        case .refused(let reason):
                            logger.info("refused \(report.peer): \(reason)")
                        }
                        sink.yield(.served(report))
                    },
                    uploadLimit: configuration.uploadLimit
                )
            } catch {
                failure = ListenFailure(host: host, port: configuration.transferPort, error: error)
            }
        }
        throw failure!
    }

    /// Stops starting new fetches; serving goes on. Fetches under way finish.
    public func pause() {
        guard !paused else { return }
        paused = true
        emit(.paused(true))
    }

    /// Starts fetching again.
    public func resume() {
        guard paused else { return }
        paused = false
        emit(.paused(false))
        wake.yield()
    }

    /// Fetches the lowest missing chunks first (`true`), or the rarest (`false`, the default).
    public func setSequential(_ sequential: Bool) {
        self.sequential = sequential
        upcoming = UpcomingPicks()
        wake.yield()
    }

    /// Fetches chunk `value` as soon as a slot is free, even while paused.
    public func request(_ value: Int) throws(CommandError) {
        guard (1...store.total).contains(value) else { throw .noSuchChunk(value, total: store.total) }
        let index = ChunkIndex(value)
        guard !held.contains(index) else { throw .alreadyHeld(index) }
        if !requested.contains(index) { requested.append(index) }
        retryAt[index] = nil
        wake.yield()
    }

    /// Tells the consumers of ``events``.
    func emit(_ event: SwarmEvent) { sink.yield(event) }
}
