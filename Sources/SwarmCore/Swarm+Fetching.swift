import SwarmProtocol

/// One chunk's fetch: locate it, try its holders in turn, check and commit what arrives, and
/// account for holders that send bad data or lose an endgame race.
extension Swarm {
    func fetch(_ index: ChunkIndex) async {
        defer {
            inFlight.remove(index)
            fetches[index] = nil
            firstFetches[index] = nil
            wake.yield()
        }
        guard let trackers else { return }
        let answer: TrackerAnswer
        do {
            answer = try await trackers.locate(index)
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
    func fetch(_ index: ChunkIndex, from holder: PeerAddress, digest: SHA1Digest) async -> Bool {
        activePerPeer[holder, default: 0] += 1
        defer { activePerPeer[holder, default: 1] -= 1 }
        logger.info("\(PeerRequest.requestChunk(index).wireText) to \(holder)")
        emit(.requested(index, from: holder))
        let started = ContinuousClock.now
        let sink = self.sink
        let received: ReceivedChunk
        do {
            received = try await configuration.fetcher.fetch(
                index, from: holder, expecting: digest, into: store, expectedBytes: largestChunk, writeBatch: fetchWindow.writeBatch
            ) {
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
        if let roundTrip = received.roundTrip { fetchWindow.record(roundTrip) }
        requested.removeAll { $0 == index }
        availability[index, default: 0] += 1
        await trackers?.register(index, digest)
        let took = ContinuousClock.now - started
        endgame.record(took)
        let seconds = took.seconds
        logger.info("fetched chunk \(index) (\(received.byteCount) bytes) from \(holder) in \(Int(seconds * 1000)) ms")
        emit(.fetched(index, from: holder, bytes: received.byteCount, seconds: seconds))
        return true
    }

    func isHeldOrCommitting(_ index: ChunkIndex) -> Bool {
        held.contains(index) || committing.contains(index)
    }

    /// The other copy of an endgame pair won: this one is dropped.
    func abandon(_ index: ChunkIndex, from holder: PeerAddress) {
        logger.info("chunk \(index) from \(holder): dropped, another copy arrived first")
        emit(.abandoned(index, from: holder))
    }

    func noteBadData(from holder: PeerAddress) {
        badChunks[holder, default: 0] += 1
        let count = badChunks[holder]!
        if count >= configuration.maxBadChunks, !banned.contains(holder) {
            banned.insert(holder)
            logger.warning("not using \(holder) again: \(count) bad chunks")
            emit(.peerBanned(holder, badChunks: count))
        }
    }

    /// Cancels every fetch and waits until each has ended.
    func stopFetches() async {
        let running = Array(fetches.values) + Array(duplicates.values)
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}
