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

        /// An answer whose wire text is `text`.
        init(text: String) {
            self.text = text
            var bytes = ByteBuffer()
            bytes.reserveCapacity(text.utf8.count + 1)
            bytes.writeString(text)
            bytes.writeInteger(UInt8(ascii: "\n"))
            self.bytes = bytes
        }
    }

    /// One registration: a holder (by its number in ``State/holders``) and its digest's bytes.
    private struct Holding: Sendable {
        var holder: UInt32
        var digest: DigestBytes
    }

    /// A chunk's registrations: most chunks have one holder, kept inline without an array.
    private enum Holdings: Sendable {
        case one(Holding)
        case many([Holding])

        var list: [Holding] {
            switch self {
            case .one(let holding): [holding]
            case .many(let list): list
            }
        }

        init?(_ list: [Holding]) {
            switch list.count {
            case 0: return nil
            case 1: self = .one(list[0])
            default: self = .many(list)
            }
        }
    }

    private struct State: Sendable {
        var holdings: [ChunkIndex: Holdings] = [:]
        /// Rendered answers of chunks recently asked about; an entry goes whenever the chunk's
        /// holders change.
        var answers: [ChunkIndex: WireAnswer] = [:]
        /// Every holder with registrations, numbered: a registration stores the number.
        var holders = HolderTable()
    }

    /// The most rendered answers kept at once: a cache as large as a registry of millions costs
    /// more memory and cache misses than rendering again saves.
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
        let bytes = DigestBytes(digest)
        return state.withLock { state in
            let number = state.holders.number(for: holder)
            guard let existing = state.holdings[index] else {
                // The common case, a chunk's first holder: no list at all.
                state.holdings[index] = .one(Holding(holder: number, digest: bytes))
                state.holders.retain(number)
                state.answers[index] = nil
                return .added
            }
            var list = existing.list
            if let position = list.firstIndex(where: { $0.holder == number }) {
                let previous = list[position].digest
                guard previous != bytes else { return .unchanged }
                list[position].digest = bytes
                state.holdings[index] = Holdings(list)
                state.answers[index] = nil
                return .changedDigest(from: previous.digest)
            }
            list.append(Holding(holder: number, digest: bytes))
            state.holders.retain(number)
            state.holdings[index] = Holdings(list)
            state.answers[index] = nil
            return .added
        }
    }

    /// The digests reported for `index` with how many holders reported each, most first.
    public func digests(for index: ChunkIndex) -> [(digest: SHA1Digest, holders: Int)] {
        state.withLock { state in
            Self.tally(state.holdings[index]?.list ?? [], holders: state.holders).map { ($0.digest, $0.holders.count) }
        }
    }

    /// The answer to `WHERE_CHUNK,<index>`.
    public func answer(for index: ChunkIndex) -> TrackerAnswer {
        state.withLock { state in answer(for: index, from: state.holdings[index]?.list ?? [], holders: state.holders) }
    }

    /// The answer to `WHERE_CHUNK,<index>` ready to send; rendered once per change of its
    /// holders while it is among the chunks asked about recently.
    public func wireAnswer(for index: ChunkIndex) -> WireAnswer {
        state.withLock { state in
            if let ready = state.answers[index] { return ready }
            guard let holdings = state.holdings[index] else {
                // Not kept: anyone may ask about any index, and memory must not grow with that.
                return WireAnswer(.chunkLocationUnknown(index))
            }
            let rendered: WireAnswer
            if case .one(let only) = holdings, quorum == 1 {
                // Most chunks: one holder, rendered straight to text without the general tally.
                let holder = state.holders.address(only.holder)
                rendered = WireAnswer(text: "GET_CHUNK_FROM,\(index.value),\(only.digest.hex),\(holder.host),\(holder.port)")
            } else {
                rendered = WireAnswer(answer(for: index, from: holdings.list, holders: state.holders))
            }
            if state.answers.count >= Self.answerCacheLimit { state.answers.removeAll(keepingCapacity: true) }
            state.answers[index] = rendered
            return rendered
        }
    }

    private func answer(for index: ChunkIndex, from list: [Holding], holders: HolderTable) -> TrackerAnswer {
        guard let winner = Self.tally(list, holders: holders).first, winner.holders.count >= quorum else {
            return .chunkLocationUnknown(index)
        }
        return .getChunkFrom(index, winner.digest, holders: winner.holders)
    }

    /// Forgets every chunk `holder` registered; returns how many registrations went.
    @discardableResult
    public func forget(holder: PeerAddress) -> Int {
        state.withLock { state in
            guard let number = state.holders.existingNumber(for: holder) else { return 0 }
            var removed = 0
            for (index, holdings) in state.holdings {
                let list = holdings.list
                let kept = list.filter { $0.holder != number }
                guard kept.count < list.count else { continue }
                removed += list.count - kept.count
                state.holdings[index] = Holdings(kept)
                state.answers[index] = nil
            }
            for _ in 0..<removed { state.holders.release(number) }
            return removed
        }
    }

    /// Every holder with at least one registration.
    public var holders: Set<PeerAddress> {
        state.withLock { Set($0.holders.addresses) }
    }

    /// The number of chunks with at least one holder.
    public var chunkCount: Int {
        state.withLock { $0.holdings.count }
    }

    /// The number of (chunk, holder) registrations held.
    public var registrationCount: Int {
        state.withLock { $0.holders.registrations }
    }

    /// Groups holdings by digest: most holders first, ties by first report; holders in report order.
    private static func tally(_ list: [Holding], holders table: HolderTable) -> [(digest: SHA1Digest, holders: [PeerAddress])] {
        var groups: [(digest: DigestBytes, holders: [PeerAddress])] = []
        for holding in list {
            if let position = groups.firstIndex(where: { $0.digest == holding.digest }) {
                groups[position].holders.append(table.address(holding.holder))
            } else {
                groups.append((holding.digest, [table.address(holding.holder)]))
            }
        }
        // Stable: equal counts keep first-reported order.
        return groups.enumerated().sorted {
            $0.element.holders.count != $1.element.holders.count
                ? $0.element.holders.count > $1.element.holders.count : $0.offset < $1.offset
        }.map { ($0.element.digest.digest, $0.element.holders) }
    }
}

/// A SHA-1 digest as 20 raw bytes in three integers: 24 bytes inline, where its hex text would
/// be a 40-character string on the heap.
private struct DigestBytes: Hashable, Sendable {
    let first: UInt64
    let second: UInt64
    let third: UInt32

    init(_ digest: SHA1Digest) {
        var words: (UInt64, UInt64, UInt32) = (0, 0, 0)
        for (position, digit) in digest.hex.utf8.enumerated() {
            let value = UInt64(digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10)
            switch position {
            case 0..<16: words.0 = words.0 << 4 | value
            case 16..<32: words.1 = words.1 << 4 | value
            default: words.2 = words.2 << 4 | UInt32(value)
            }
        }
        (first, second, third) = words
    }

    var digest: SHA1Digest { SHA1Digest(hex: hex)! }

    /// The 40 lowercase hexadecimal digits, written in one allocation.
    var hex: String {
        String(unsafeUninitializedCapacity: 40) { text in
            let digits: StaticString = "0123456789abcdef"
            func put(_ word: UInt64, nibbles: Int, at start: Int) {
                for position in 0..<nibbles {
                    text[start + position] = digits.utf8Start[Int(word >> UInt64(4 * (nibbles - 1 - position)) & 0xf)]
                }
            }
            put(first, nibbles: 16, at: 0)
            put(second, nibbles: 16, at: 16)
            put(UInt64(third), nibbles: 8, at: 32)
            return 40
        }
    }
}

/// The holders a registry knows, numbered, with how many registrations each has; a number is
/// given back (and reused) when its holder's last registration goes.
private struct HolderTable: Sendable {
    private var numbers: [PeerAddress: UInt32] = [:]
    private var entries: [(address: PeerAddress, registrations: Int)] = []
    private var free: [UInt32] = []
    /// Registrations over all holders.
    private(set) var registrations = 0

    /// The number of `address`, given one if it has none.
    mutating func number(for address: PeerAddress) -> UInt32 {
        if let number = numbers[address] { return number }
        let number: UInt32
        if let reused = free.popLast() {
            number = reused
            entries[Int(number)] = (address, 0)
        } else {
            number = UInt32(entries.count)
            entries.append((address, 0))
        }
        numbers[address] = number
        return number
    }

    func existingNumber(for address: PeerAddress) -> UInt32? { numbers[address] }

    func address(_ number: UInt32) -> PeerAddress { entries[Int(number)].address }

    /// Holders with at least one registration.
    var addresses: [PeerAddress] { entries.filter { $0.registrations > 0 }.map(\.address) }

    mutating func retain(_ number: UInt32) {
        entries[Int(number)].registrations += 1
        registrations += 1
    }

    /// One registration of holder `number` went; its number is freed with its last.
    mutating func release(_ number: UInt32) {
        entries[Int(number)].registrations -= 1
        registrations -= 1
        guard entries[Int(number)].registrations == 0 else { return }
        numbers[entries[Int(number)].address] = nil
        free.append(number)
    }
}
