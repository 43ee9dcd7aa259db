import Logging
import NIOCore
import NIOPosix
import Synchronization
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
public actor Swarm {
    /// How a client runs.
    public struct Configuration: Sendable {
        /// The client's name, as in the seed's `-name`.
        public var name: String
        /// Where the tracker listens.
        public var tracker: PeerAddress
        /// The host registered for our chunks.
        public var advertiseHost: String
        /// The transfer port; 0 picks a free one (the demo's peers).
        public var transferPort: Int
        /// The local address the peer server binds.
        public var listenHost: String
        /// Paces everything this client serves, if set.
        public var uploadLimit: TokenBucket?
        /// Fetches running at once, in total.
        public var maxConcurrentFetches = 8
        /// Fetches running at once from any one holder.
        public var maxFetchesPerPeer = 8
        /// Bad chunks after which a holder is not used again in this run.
        public var maxBadChunks = 3
        /// Stop once every chunk is held, instead of serving until cancelled.
        public var exitWhenComplete = false
        /// Start with fetching paused.
        public var startPaused = false
        /// Reconnect timing for the tracker link.
        public var trackerBackoff = Backoff()
        /// Retry timing for a chunk nobody can serve yet.
        public var chunkBackoff = Backoff(initial: .milliseconds(500), cap: .seconds(5))
        /// How chunks are downloaded.
        public var fetcher = ChunkFetcher()

        /// A configuration with the seed's defaults for everything not given.
        public init(name: String, tracker: PeerAddress, advertiseHost: String, transferPort: Int, listenHost: String? = nil) {
            self.name = name
            self.tracker = tracker
            self.advertiseHost = advertiseHost
            self.transferPort = transferPort
            self.listenHost = listenHost ?? Self.bindHost(for: advertiseHost)
        }

        /// Binds the advertised address when it is a literal IP, else every interface.
        private static func bindHost(for host: String) -> String {
            let isLiteral = host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
            return isLiteral ? host : "0.0.0.0"
        }
    }

    /// A command the user gave that cannot be carried out.
    public enum CommandError: Error, Equatable, CustomStringConvertible {
        /// The chunk index is outside `1...total`.
        case noSuchChunk(Int, total: Int)
        /// The chunk is already held.
        case alreadyHeld(ChunkIndex)

        public var description: String {
            switch self {
            case .noSuchChunk(let value, let total): return "no chunk \(value): chunks are 1–\(total)"
            case .alreadyHeld(let index): return "chunk \(index) is already here"
            }
        }
    }

    /// The engine could not start.
    public enum SwarmError: Error, CustomStringConvertible {
        /// The advertised host and the bound port do not make an address.
        case badAdvertisedAddress(String)

        public var description: String {
            switch self {
            case .badAdvertisedAddress(let host): return "cannot advertise \"\(host)\" as our address"
            }
        }
    }

    /// Everything that happens, in order. One consumer.
    public nonisolated let events: AsyncStream<SwarmEvent>
    private let sink: AsyncStream<SwarmEvent>.Continuation

    private let configuration: Configuration
    private let store: ChunkStore
    private let logger: Logger
    private var tracker: TrackerClient?
    /// Whether the tracker link is up: fetching starts only then, so nothing is postponed for
    /// want of a tracker that is still being dialled.
    private var trackerConnected = false
    /// The address registered for our chunks, known once the transfer port is bound.
    private var advertised: PeerAddress?

    private var held: Set<ChunkIndex> = []
    private var inFlight: Set<ChunkIndex> = []
    private var availability: [ChunkIndex: Int] = [:]
    private var locatedAt: [ChunkIndex: ContinuousClock.Instant] = [:]
    private var retryAt: [ChunkIndex: ContinuousClock.Instant] = [:]
    private var attempts: [ChunkIndex: Int] = [:]
    /// Chunks the user asked for, in order, until held: one that nobody holds yet or whose
    /// fetch failed is tried again after its back-off, even while paused.
    private var requested: [ChunkIndex] = []
    /// The largest chunk fetched so far, in bytes: what the next one probably weighs.
    private var largestChunk: Int?
    private var paused: Bool
    private var badChunks: [PeerAddress: Int] = [:]
    private var banned: Set<PeerAddress> = []
    private var activePerPeer: [PeerAddress: Int] = [:]
    private var fetches: [ChunkIndex: Task<Void, Never>] = [:]
    /// The holder each in-flight chunk is being fetched from (its first fetch), and since when.
    private var firstFetches: [ChunkIndex: (holder: PeerAddress, since: ContinuousClock.Instant)] = [:]
    /// Endgame: second fetches of the last chunks, from another holder.
    private var duplicates: [ChunkIndex: Task<Void, Never>] = [:]
    /// Which first fetches are slow enough for a second copy.
    private var endgame = EndgamePolicy()
    /// Chunks being committed now, so a second fetch finishing meanwhile is dropped.
    private var committing: Set<ChunkIndex> = []
    /// The chunks the last plan ranked after those it started.
    private var upcoming = UpcomingPicks()
    private var announcedComplete = false
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// An engine for the folder `store`, configured by `configuration`; `logger` receives protocol
    /// lines (`WHERE_CHUNK,3`) and diagnostics.
    public init(configuration: Configuration, store: ChunkStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.paused = configuration.startPaused
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
        let sink = self.sink
        let logger = self.logger
        let server: PeerServer
        do {
            server = try await PeerServer.start(
                host: configuration.listenHost,
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
            throw ListenFailure(host: configuration.listenHost, port: configuration.transferPort, error: error)
        }
        guard let boundPort = server.localAddress.port,
            let advertised = PeerAddress(host: configuration.advertiseHost, port: boundPort)
        else { throw SwarmError.badAdvertisedAddress(configuration.advertiseHost) }
        self.advertised = advertised
        // The link's states, in order, for the scheduler.
        let (trackerStateStream, trackerStates) = AsyncStream.makeStream(of: TrackerState.self)
        let tracker = TrackerClient(
            tracker: configuration.tracker,
            advertised: advertised,
            probeIndex: ChunkIndex(min(store.total + 1, ChunkIndex.maximum)),
            logger: logger,
            backoff: configuration.trackerBackoff,
            onState: { state in
                sink.yield(.tracker(state))
                trackerStates.yield(state)
            }
        )
        self.tracker = tracker
        emit(
            .started(
                name: configuration.name,
                folder: store.folder,
                total: store.total,
                held: held,
                serving: advertised
            )
        )
        if paused { emit(.paused(true)) }
        await tracker.register(digests)
        emit(.registered(count: digests.count))

        let trackerTask = Task { await tracker.run() }
        let trackerWatch = Task { for await state in trackerStateStream { self.trackerChanged(to: state) } }
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
        trackerTask.cancel()
        await stopFetches()
        await server.shutdown()
        try await store.close()
    }

    /// Cancels every fetch and waits until each has ended.
    private func stopFetches() async {
        let running = Array(fetches.values) + Array(duplicates.values)
        for task in running { task.cancel() }
        for task in running { await task.value }
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

    /// Fetches chunk `value` as soon as a slot is free, even while paused.
    public func request(_ value: Int) throws(CommandError) {
        guard (1...store.total).contains(value) else { throw .noSuchChunk(value, total: store.total) }
        let index = ChunkIndex(value)
        guard !held.contains(index) else { throw .alreadyHeld(index) }
        if !requested.contains(index) { requested.append(index) }
        retryAt[index] = nil
        wake.yield()
    }

    private func emit(_ event: SwarmEvent) { sink.yield(event) }

    /// Lists every chunk on disk at once, then tells of the completion, once.
    private func announceComplete() async {
        guard !announcedComplete else { return }
        announcedComplete = true
        do {
            try await store.flush()
        } catch {
            reportListProblem(error)
        }
        logger.info("complete: all \(store.total) chunks held")
        emit(.complete(total: store.total))
    }

    /// The list could not be rewritten: the chunks stay held and served, and it is tried again.
    private func reportListProblem(_ error: Error) {
        logger.error("cannot rewrite \(ChunkList.fileName): \(error)")
        emit(.problem("cannot list new chunks in \(ChunkList.fileName) (trying again): \(error)"))
    }

    private func trackerChanged(to state: TrackerState) {
        if case .connected = state { trackerConnected = true } else { trackerConnected = false }
        wake.yield()
    }

    private func schedule() {
        guard trackerConnected else { return }
        let now = ContinuousClock.now
        retryAt = retryAt.filter { $0.value > now }
        let free = configuration.maxConcurrentFetches - inFlight.count - duplicates.count
        for index in nextPicks(free, now: now) {
            inFlight.insert(index)
            fetches[index] = Task { await self.fetch(index) }
        }
        startEndgame()
    }

    /// The next `count` chunks to fetch: the rest of the last plan while it is fresh and no
    /// chunk the user asked for could start, else a new plan (``UpcomingPicks``).
    private func nextPicks(_ count: Int, now: ContinuousClock.Instant) -> [ChunkIndex] {
        let requestCouldStart = requested.contains { !inFlight.contains($0) && retryAt[$0] == nil }
        return upcoming.take(
            count, now: now, mayReuse: !requestCouldStart && !paused,
            usable: { !held.contains($0) && !inFlight.contains($0) && retryAt[$0] == nil },
            plan: { slots in
                ChunkPicker.plan(
                    PickerInput(
                        total: store.total,
                        held: held,
                        inFlight: inFlight,
                        availability: availability,
                        waiting: Set(retryAt.keys),
                        requested: requested,
                        paused: paused,
                        freeSlots: slots
                    )
                )
            }
        )
    }

    /// Once every missing chunk is being fetched, free slots ask a second holder for those whose
    /// fetch is slow (``EndgamePolicy``); the first copy to arrive is kept and the other fetch is
    /// cancelled, so one slow peer cannot hold back the end of a download.
    private func startEndgame() {
        guard !paused, inFlight.count == store.total - held.count else { return }
        var free = configuration.maxConcurrentFetches - inFlight.count - duplicates.count
        let now = ContinuousClock.now
        for index in inFlight.sorted() where free > 0 && duplicates[index] == nil {
            guard let first = firstFetches[index], endgame.isSlow(age: now - first.since) else { continue }
            free -= 1
            duplicates[index] = Task { await self.duplicate(index, avoiding: first.holder) }
        }
    }

    private func duplicate(_ index: ChunkIndex, avoiding source: PeerAddress) async {
        defer { wake.yield() }
        guard let tracker, case .getChunkFrom(_, let digest, let holders)? = try? await tracker.locate(index),
            let holder = orderedHolders(holders).first(where: { $0 != source && hasRoom($0) }),
            !held.contains(index), !Task.isCancelled
        else {
            // No other holder now: keep the slot taken a while rather than asking again at once.
            try? await Task.sleep(for: .seconds(1))
            duplicates[index] = nil
            return
        }
        logger.info("endgame: chunk \(index) also requested from \(holder)")
        if await fetch(index, from: holder, digest: digest), held.contains(index) { fetches[index]?.cancel() }
        duplicates[index] = nil
    }

    private func fetch(_ index: ChunkIndex) async {
        defer {
            inFlight.remove(index)
            fetches[index] = nil
            firstFetches[index] = nil
            wake.yield()
        }
        guard let tracker else { return }
        let answer: TrackerAnswer
        do {
            answer = try await tracker.locate(index)
        } catch {
            postpone(index)
            return
        }
        guard case .getChunkFrom(_, let digest, let holders) = answer else {
            availability[index] = 0
            emit(.nowhere(index))
            postpone(index)
            return
        }
        availability[index] = holders.count
        locatedAt[index] = .now
        emit(.located(index, holders: holders))
        let candidates = orderedHolders(holders)
        guard !candidates.isEmpty else {
            emit(.failed(index, from: nil, reason: "no usable holder (all banned or ourselves)"))
            postpone(index)
            return
        }
        var triedAny = false
        for holder in candidates where !Task.isCancelled && hasRoom(holder) {
            triedAny = true
            firstFetches[index] = (holder, .now)
            if await fetch(index, from: holder, digest: digest) {
                if held.contains(index) { duplicates[index]?.cancel() }
                return
            }
        }
        guard triedAny else {
            // Every holder is busy with as many of our fetches as it may serve: soon again.
            retryAt[index] = .now + .milliseconds(100)
            return
        }
        postpone(index)
    }

    /// One attempt at one holder; `true` when the chunk is now held, or when trying others is pointless.
    private func fetch(_ index: ChunkIndex, from holder: PeerAddress, digest: SHA1Digest) async -> Bool {
        activePerPeer[holder, default: 0] += 1
        defer { activePerPeer[holder, default: 1] -= 1 }
        logger.info("\(PeerRequest.requestChunk(index).wireText) to \(holder)")
        emit(.requested(index, from: holder))
        let started = ContinuousClock.now
        let sink = self.sink
        let received: ReceivedChunk
        do {
            received = try await configuration.fetcher.fetch(index, from: holder, expecting: digest, into: store, expectedBytes: largestChunk) {
                sink.yield(.receiving(index, from: holder, bytes: $0))
            }
        } catch {
            // Cancelled because the other copy of an endgame pair arrived first: not the holder's fault.
            if isHeldOrCommitting(index) {
                abandon(index, from: holder)
                return true
            }
            // Cancelled because the client is stopping: nothing to say.
            if Task.isCancelled { return true }
            logger.warning("chunk \(index) from \(holder): \(error)")
            emit(.failed(index, from: holder, reason: error.description))
            if error.isBadData { noteBadData(from: holder) }
            if case .storage(let reason) = error {
                emit(.problem("cannot save chunk \(index): \(reason)"))
                postpone(index)
                return true
            }
            return false
        }
        guard !isHeldOrCommitting(index) else {
            await store.discard(received)
            abandon(index, from: holder)
            return true
        }
        committing.insert(index)
        defer { committing.remove(index) }
        do {
            try await store.commit(received)
        } catch is StoreClosed {
            return true
        } catch {
            logger.error("cannot save chunk \(index): \(error)")
            emit(.problem("cannot save chunk \(index): \(error)"))
            emit(.failed(index, from: holder, reason: "cannot save: \(error)"))
            postpone(index)
            return true
        }
        held.insert(index)
        largestChunk = max(largestChunk ?? 0, received.byteCount)
        requested.removeAll { $0 == index }
        availability[index, default: 0] += 1
        await tracker?.register(index, digest)
        let took = ContinuousClock.now - started
        endgame.record(took)
        let seconds = took.seconds
        logger.info("fetched chunk \(index) (\(received.byteCount) bytes) from \(holder) in \(Int(seconds * 1000)) ms")
        emit(.fetched(index, from: holder, bytes: received.byteCount, seconds: seconds))
        return true
    }

    /// Keeps the map's availability fresh: asks where missing chunks are, a batch at a time, so
    /// rarest-first has counts to work with and the UI shows how many peers hold each chunk.
    private func surveyLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard let tracker else { continue }
            // One at a time with a seed-era tracker, whose questions cannot be pipelined.
            let batchSize = await tracker.isFastPath ? 128 : 2
            let stale = ContinuousClock.now - .seconds(5)
            var batch: [ChunkIndex] = []
            for value in 1...store.total where batch.count < batchSize {
                let index = ChunkIndex(value)
                guard !held.contains(index), !inFlight.contains(index), locatedAt[index].map({ $0 < stale }) ?? true else { continue }
                batch.append(index)
                locatedAt[index] = .now
            }
            guard !batch.isEmpty else { continue }
            await withTaskGroup(of: (ChunkIndex, TrackerAnswer?).self) { group in
                for index in batch { group.addTask { (index, try? await tracker.locate(index)) } }
                for await (index, answer) in group {
                    guard !held.contains(index), let answer else { continue }
                    let holders: [PeerAddress]
                    if case .getChunkFrom(_, _, let list) = answer { holders = list } else { holders = [] }
                    availability[index] = holders.count
                    emit(.surveyed(index, holders: holders))
                }
            }
        }
    }

    /// Whether `holder` may take one more of our fetches (``Configuration/maxFetchesPerPeer``).
    private func hasRoom(_ holder: PeerAddress) -> Bool {
        activePerPeer[holder, default: 0] < configuration.maxFetchesPerPeer
    }

    private func isHeldOrCommitting(_ index: ChunkIndex) -> Bool {
        held.contains(index) || committing.contains(index)
    }

    /// The other copy of an endgame pair won: this one is dropped.
    private func abandon(_ index: ChunkIndex, from holder: PeerAddress) {
        logger.info("chunk \(index) from \(holder): dropped, another copy arrived first")
        emit(.abandoned(index, from: holder))
    }

    private func noteBadData(from holder: PeerAddress) {
        badChunks[holder, default: 0] += 1
        let count = badChunks[holder]!
        if count >= configuration.maxBadChunks, !banned.contains(holder) {
            banned.insert(holder)
            logger.warning("not using \(holder) again: \(count) bad chunks")
            emit(.peerBanned(holder, badChunks: count))
        }
    }

    private func postpone(_ index: ChunkIndex) {
        let attempt = attempts[index, default: 0]
        attempts[index] = attempt + 1
        retryAt[index] = .now + configuration.chunkBackoff.delay(attempt: attempt)
    }

    /// Usable holders, least busy first, random among equals; never ourselves or a banned peer.
    private func orderedHolders(_ holders: [PeerAddress]) -> [PeerAddress] {
        holders.filter { !banned.contains($0) && !isSelf($0) }
            .map { ($0, activePerPeer[$0, default: 0], UInt64.random(in: 0...UInt64.max)) }
            .sorted { ($0.1, $0.2) < ($1.1, $1.2) }
            .map(\.0)
    }

    private func isSelf(_ holder: PeerAddress) -> Bool {
        guard let advertised else { return false }
        if holder == advertised { return true }
        return holder.port == advertised.port && Self.isLoopback(holder.host) && Self.isLoopback(advertised.host)
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}
