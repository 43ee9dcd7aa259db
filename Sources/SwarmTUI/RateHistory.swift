/// Bytes moved in each of the last ``seconds`` whole seconds: what the rate graph draws.
///
/// A ring of one-second buckets, so memory is fixed however long the client runs. Time is
/// passed in (seconds since the UI started), so tests are exact.
public struct RateHistory: Sendable, Equatable {
    /// How far back the history goes, in seconds.
    public static let seconds = 60

    private var buckets = [Int](repeating: 0, count: Self.seconds)
    /// The second the newest bucket holds, once anything was added.
    private var newest: Int?

    public init() {}

    /// Records `bytes` moved at `time`.
    public mutating func add(_ bytes: Int, at time: Double) {
        let second = Int(time.rounded(.down))
        if let newest, second <= newest - Self.seconds { return }
        advance(to: second)
        buckets[Self.slot(second)] += bytes
    }

    /// Bytes per second in each of the ``seconds`` whole seconds before `time`, oldest first.
    /// The second under way is left out: half of it would read as a dip.
    public func perSecond(at time: Double) -> [Double] {
        let current = Int(time.rounded(.down))
        return (current - Self.seconds..<current).map { second in
            guard let newest, second <= newest, second > newest - Self.seconds else { return 0 }
            return Double(buckets[Self.slot(second)])
        }
    }

    /// Empties the buckets of the seconds between the newest and `second`.
    private mutating func advance(to second: Int) {
        guard let last = newest else {
            newest = second
            return
        }
        guard second > last else { return }
        for skipped in (last + 1)...min(second, last + Self.seconds) { buckets[Self.slot(skipped)] = 0 }
        newest = second
    }

    private static func slot(_ second: Int) -> Int { ((second % seconds) + seconds) % seconds }
}
