import SwarmProtocol

/// A client's trackers together (`-tracker h1:p1,h2:p2`): every chunk is registered with each,
/// every question goes to each tracker connected now, and their answers are merged, so the swarm
/// goes on while any one of them answers. Each link reconnects on its own and registers again
/// everything held when its tracker comes back.
public struct TrackerLinks: Sendable {
    /// One link per tracker, in the order given.
    public let clients: [TrackerClient]
    /// How long the other trackers may still answer once one has named holders: a stuck
    /// tracker (closed after its answer timeout) does not hold every fetch up.
    public let straggling: Duration

    public init(_ clients: [TrackerClient], straggling: Duration = .seconds(1)) {
        self.clients = clients
        self.straggling = straggling
    }

    /// Registers chunk `index` with every tracker (now, or when its link is up).
    func register(_ index: ChunkIndex, _ digest: SHA1Digest) async {
        for client in clients { await client.register(index, digest) }
    }

    /// Registers many chunks with every tracker (start-up).
    func register(_ digests: [ChunkIndex: SHA1Digest]) async {
        for client in clients { await client.register(digests) }
    }

    /// Whether every connected tracker takes pipelined questions (our own trackers).
    var isFastPath: Bool {
        get async {
            var anyConnected = false
            for client in clients where await client.isConnected {
                guard await client.isFastPath else { return false }
                anyConnected = true
            }
            return anyConnected
        }
    }

    /// Asks every tracker where chunk `index` is and merges their answers (``merge(_:)``); once
    /// one has named holders, the others have ``straggling`` to add theirs.
    ///
    /// - Throws: the first tracker's error when none answers.
    func locate(_ index: ChunkIndex) async throws -> TrackerAnswer {
        if clients.count == 1 { return try await clients[0].locate(index) }
        enum Outcome: Sendable {
            case answer(Int, Result<TrackerAnswer, Error>)
            case lateness
        }
        let results = await withTaskGroup(of: Outcome.self) { group in
            for (position, client) in clients.enumerated() {
                group.addTask {
                    do { return .answer(position, .success(try await client.locate(index))) } catch { return .answer(position, .failure(error)) }
                }
            }
            var results: [Result<TrackerAnswer, Error>?] = Array(repeating: nil, count: clients.count)
            var waitingFor = clients.count
            var lateness = false
            while waitingFor > 0, let outcome = await group.next() {
                guard case .answer(let position, let result) = outcome else { break }
                results[position] = result
                waitingFor -= 1
                if !lateness, case .success(.getChunkFrom) = result {
                    lateness = true
                    group.addTask { [straggling] in
                        try? await Task.sleep(for: straggling)
                        return .lateness
                    }
                }
            }
            group.cancelAll()
            return results.compactMap { $0 }
        }
        let answers = results.compactMap { try? $0.get() }
        guard !answers.isEmpty else { return try results[0].get() }
        return Self.merge(answers)
    }

    /// One answer from several trackers' answers for the same chunk, in the trackers' order: the
    /// first digest named, with every holder registered under that digest (each once); holders
    /// another tracker lists under another digest are left out, since their bytes would fail the
    /// check. No holder anywhere: the first answer.
    public static func merge(_ answers: [TrackerAnswer]) -> TrackerAnswer {
        var chosen: (index: ChunkIndex, digest: SHA1Digest)?
        var holders: [PeerAddress] = []
        var seen: Set<PeerAddress> = []
        for case .getChunkFrom(let index, let digest, let listed) in answers {
            if chosen == nil { chosen = (index, digest) }
            guard digest == chosen!.digest else { continue }
            for holder in listed where seen.insert(holder).inserted { holders.append(holder) }
        }
        guard let chosen else { return answers[0] }
        return .getChunkFrom(chosen.index, chosen.digest, holders: holders)
    }

    /// The links' states as one, for the status line: connected while any tracker is (through the
    /// fast path only when every connected one takes it), else dialling while any is dialled,
    /// else the soonest retry.
    public static func overall(_ states: [TrackerState]) -> TrackerState {
        let fastness = states.compactMap { state -> Bool? in
            if case .connected(let fast) = state { return fast } else { return nil }
        }
        if !fastness.isEmpty { return .connected(fastPath: !fastness.contains(false)) }
        if states.contains(.connecting) { return .connecting }
        let retries = states.compactMap { state -> (Duration, String)? in
            if case .retrying(let delay, let reason) = state { return (delay, reason) } else { return nil }
        }
        guard let soonest = retries.min(by: { $0.0 < $1.0 }) else { return .connecting }
        return .retrying(in: soonest.0, reason: soonest.1)
    }
}
