import SwarmProtocol

/// What the engine does with its tracker links beyond single fetches: follows their states and
/// the addresses they register us under, keeps the map's availability fresh, and says when the
/// download is complete.
extension Swarm {
    /// Tracker link `link` is now in `state`: told per link when there are several, and as one
    /// state (``TrackerLinks/overall(_:)``) when that changes.
    func linkChanged(_ link: Int, to state: TrackerState) async {
        let before = TrackerLinks.overall(linkStates)
        linkStates[link] = state
        let client = trackers!.clients[link]
        if linkStates.count > 1 { emit(.trackerLink(client.tracker, state)) }
        if case .connected = state, let address = await client.registeredAs, ownAddresses.insert(address).inserted {
            emit(.advertising(address, tracker: client.tracker))
        }
        let overall = TrackerLinks.overall(linkStates)
        if overall != before || linkStates.count == 1 { emit(.tracker(overall)) }
        if case .connected = overall { trackerConnected = true } else { trackerConnected = false }
        wake.yield()
    }

    /// Keeps the map's availability fresh: asks where missing chunks are, a batch at a time, so
    /// rarest-first has counts to work with and the UI shows how many peers hold each chunk.
    func surveyLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard let trackers else { continue }
            // One at a time with a seed-era tracker, whose questions cannot be pipelined.
            let batchSize = await trackers.isFastPath ? 128 : 2
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
                for index in batch { group.addTask { (index, try? await trackers.locate(index)) } }
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

    /// Lists every chunk on disk at once, then tells of the completion, once.
    func announceComplete() async {
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
    func reportListProblem(_ error: Error) {
        logger.error("cannot rewrite \(ChunkList.fileName): \(error)")
        emit(.problem("cannot list new chunks in \(ChunkList.fileName) (trying again): \(error)"))
    }
}
