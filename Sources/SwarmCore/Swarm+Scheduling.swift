import SwarmProtocol

/// What to fetch next and from whom: the plan (rarest first, the user's requests first), the
/// endgame's second copies, back-off for chunks nobody can serve yet, and the order of holders.
extension Swarm {
    /// Starts fetches in the free slots, then the endgame's second copies; runs at every wake-up.
    func schedule() {
        guard trackerConnected else { return }
        let now = ContinuousClock.now
        retryAt = retryAt.filter { $0.value > now }
        let free = fetchWindow.allowedTotal - inFlight.count - duplicates.count
        for index in nextPicks(free, now: now) {
            inFlight.insert(index)
            fetches[index] = Task { await self.fetch(index) }
        }
        startEndgame()
    }

    /// The next `count` chunks to fetch: the rest of the last plan while it is fresh and no
    /// chunk the user asked for could start, else a new plan (``UpcomingPicks``).
    func nextPicks(_ count: Int, now: ContinuousClock.Instant) -> [ChunkIndex] {
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
                        freeSlots: slots,
                        sequential: sequential
                    )
                )
            }
        )
    }

    /// Once every missing chunk is being fetched, free slots ask a second holder for those whose
    /// fetch is slow (``EndgamePolicy``); the first copy to arrive is kept and the other fetch is
    /// cancelled, so one slow peer cannot hold back the end of a download.
    func startEndgame() {
        guard !paused, inFlight.count == store.total - held.count else { return }
        var free = fetchWindow.allowedTotal - inFlight.count - duplicates.count
        let now = ContinuousClock.now
        for index in inFlight.sorted() where free > 0 && duplicates[index] == nil {
            guard let first = firstFetches[index], endgame.isSlow(age: now - first.since) else { continue }
            free -= 1
            duplicates[index] = Task { await self.duplicate(index, avoiding: first.holder) }
        }
    }

    func duplicate(_ index: ChunkIndex, avoiding source: PeerAddress) async {
        defer { wake.yield() }
        guard let trackers, case .getChunkFrom(_, let digest, let holders)? = try? await trackers.locate(index),
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

    func postpone(_ index: ChunkIndex) {
        let attempt = attempts[index, default: 0]
        attempts[index] = attempt + 1
        retryAt[index] = .now + configuration.chunkBackoff.delay(attempt: attempt)
    }

    /// Whether `holder` may take one more of our fetches (``FetchWindow/allowedPerPeer``).
    func hasRoom(_ holder: PeerAddress) -> Bool {
        activePerPeer[holder, default: 0] < fetchWindow.allowedPerPeer
    }

    /// Usable holders, least busy first, random among equals; never ourselves or a banned peer.
    func orderedHolders(_ holders: [PeerAddress]) -> [PeerAddress] {
        holders.filter { !banned.contains($0) && !isSelf($0) }
            .map { ($0, activePerPeer[$0, default: 0], UInt64.random(in: 0...UInt64.max)) }
            .sorted { ($0.1, $0.2) < ($1.1, $1.2) }
            .map(\.0)
    }

    /// Whether `holder` is this client: an address our chunks are registered under, or a
    /// loopback address on our port while we listen on loopback.
    func isSelf(_ holder: PeerAddress) -> Bool {
        if ownAddresses.contains(holder) { return true }
        let listensOnLoopback = PeerAddress.isEveryAddress(configuration.listenHost) || PeerAddress.isLoopback(configuration.listenHost)
        return holder.port == boundPort && PeerAddress.isLoopback(holder.host) && listensOnLoopback
    }
}
