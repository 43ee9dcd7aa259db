import NIOCore
import Synchronization
import SwarmProtocol

/// Who holds which chunk: every `(holder, SHA-1)` reported for each chunk index, once per holder.
///
/// Answers follow the majority: when holders disagree on a chunk's digest, the digest most holders
/// reported wins (ties go to the one reported first) and only its holders are listed. With a
/// `quorum` above 1 a chunk is listed only once that many holders agree, as some seed-era
/// trackers do. Thread-safe: every connection's handler shares one registry. Each listed chunk's
/// answer is rendered once and kept until its holders change, so a busy tracker answers from
/// ready bytes.
///
/// ```swift
/// let registry = TrackerRegistry(quorum: 1)
/// registry.register(ChunkIndex(3), digest, holder: PeerAddress(host: "127.0.0.1", port: 6001)!)
/// registry.answer(for: ChunkIndex(3))  // .getChunkFrom(3, digest, holders: [127.0.0.1:6001])
/// ```
public final class TrackerRegistry: Sendable {
    /// What registering changed, so the server can log it.
    public enum Registration: Equatable, Sendable {
        /// A new holder for this chunk.
        case added
        /// The holder had already reported the same digest.
        case unchanged
        /// The holder now reports a different digest than before.
        case changedDigest(from: SHA1Digest)
    }

    /// An answer ready to send: its text for the log, and its bytes with the `\n` for the wire.
    public struct WireAnswer: Sendable {
        /// The answer without its terminator, e.g. `CHUNK_LOCATION_UNKNOWN,7`.
        public let text: String
        /// `text` and `\n`.
        public let bytes: ByteBuffer

        init(_ answer: TrackerAnswer) {
            text = answer.wireText
            bytes = answer.encoded(terminated: true)
        }
    }

    private struct Holding: Sendable {
        var holder: PeerAddress
        var digest: SHA1Digest
    }

    private struct State: Sendable {
        var holdings: [ChunkIndex: [Holding]] = [:]
        /// Rendered answers of chunks with holders; an entry goes whenever the chunk's holders change.
        var answers: [ChunkIndex: WireAnswer] = [:]
    }

    /// The most rendered answers kept at once.
    static let answerCacheLimit = 16_384

    /// How many holders must agree on a digest before a chunk is listed.
    public let quorum: Int
    private let state = Mutex(State())

    /// A registry listing a chunk once `quorum` holders (at least 1) agree on its digest.
    public init(quorum: Int = 1) {
        precondition(quorum >= 1, "quorum must be at least 1")
        self.quorum = quorum
    }

    /// Records that `holder` holds chunk `index` with `digest`.
    @discardableResult
    public func register(_ index: ChunkIndex, _ digest: SHA1Digest, holder: PeerAddress) -> Registration {
        state.withLock { state in
            var list = state.holdings[index, default: []]
            if let position = list.firstIndex(where: { $0.holder == holder }) {
                let previous = list[position].digest
                guard previous != digest else { return .unchanged }
                list[position].digest = digest
                state.holdings[index] = list
                state.answers[index] = nil
                return .changedDigest(from: previous)
            }
            list.append(Holding(holder: holder, digest: digest))
            state.holdings[index] = list
            state.answers[index] = nil
            return .added
        }
    }

    /// The digests reported for `index` with how many holders reported each, most first.
    public func digests(for index: ChunkIndex) -> [(digest: SHA1Digest, holders: Int)] {
        let list = state.withLock { $0.holdings[index] ?? [] }
        return Self.tally(list).map { ($0.digest, $0.holders.count) }
    }

    /// The answer to `WHERE_CHUNK,<index>`.
    public func answer(for index: ChunkIndex) -> TrackerAnswer {
        answer(for: index, from: state.withLock { $0.holdings[index] ?? [] })
    }

    /// The answer to `WHERE_CHUNK,<index>` ready to send; rendered once per change of its holders.
    public func wireAnswer(for index: ChunkIndex) -> WireAnswer {
        state.withLock { state in
            if let ready = state.answers[index] { return ready }
            guard let list = state.holdings[index] else {
                // Not kept: anyone may ask about any index, and memory must not grow with that.
                return WireAnswer(.chunkLocationUnknown(index))
            }
            let rendered = WireAnswer(answer(for: index, from: list))
            // Kept for the chunks asked most recently only: a cache as large as a registry of
            // millions costs more memory and cache misses than rendering again saves.
            if state.answers.count >= Self.answerCacheLimit { state.answers.removeAll(keepingCapacity: true) }
            state.answers[index] = rendered
            return rendered
        }
    }

    private func answer(for index: ChunkIndex, from list: [Holding]) -> TrackerAnswer {
        guard let winner = Self.tally(list).first, winner.holders.count >= quorum else {
            return .chunkLocationUnknown(index)
        }
        return .getChunkFrom(index, winner.digest, holders: winner.holders)
    }

    /// Forgets every chunk `holder` registered; returns how many registrations went.
    @discardableResult
    public func forget(holder: PeerAddress) -> Int {
        state.withLock { state in
            var removed = 0
            for (index, list) in state.holdings {
                let kept = list.filter { $0.holder != holder }
                guard kept.count < list.count else { continue }
                removed += list.count - kept.count
                state.holdings[index] = kept.isEmpty ? nil : kept
                state.answers[index] = nil
            }
            return removed
        }
    }

    /// Every holder with at least one registration.
    public var holders: Set<PeerAddress> {
        state.withLock { Set($0.holdings.values.joined().map(\.holder)) }
    }

    /// The number of chunks with at least one holder.
    public var chunkCount: Int {
        state.withLock { $0.holdings.count }
    }

    /// The number of (chunk, holder) registrations held.
    public var registrationCount: Int {
        state.withLock { $0.holdings.values.reduce(0) { $0 + $1.count } }
    }

    /// Groups holdings by digest: most holders first, ties by first report; holders in report order.
    private static func tally(_ list: [Holding]) -> [(digest: SHA1Digest, holders: [PeerAddress])] {
        var groups: [(digest: SHA1Digest, holders: [PeerAddress])] = []
        for holding in list {
            if let position = groups.firstIndex(where: { $0.digest == holding.digest }) {
                groups[position].holders.append(holding.holder)
            } else {
                groups.append((holding.digest, [holding.holder]))
            }
        }
        // Stable: equal counts keep first-reported order.
        return groups.enumerated().sorted {
            $0.element.holders.count != $1.element.holders.count
                ? $0.element.holders.count > $1.element.holders.count : $0.offset < $1.offset
        }.map(\.element)
    }
}
