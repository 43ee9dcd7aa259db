import SwarmProtocol

/// What the engine does with its tracker link beyond single fetches: follows its state, keeps
/// the map's availability fresh, and says when the download is complete.
extension Swarm {
    func trackerChanged(to state: TrackerState) {
        if case .connected = state { trackerConnected = true } else { trackerConnected = false }
        wake.yield()
    }

    /// Keeps the map's availability fresh: asks where missing chunks are, a batch at a time, so
    /// rarest-first has counts to work with and the UI shows how many peers hold each chunk.
    func surveyLoop() async {
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
