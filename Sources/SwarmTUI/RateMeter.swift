/// Bytes per second over a short sliding window, as a person watching a transfer expects: it
/// follows the real speed within a few seconds instead of averaging over minutes.
///
/// ```swift
/// var meter = RateMeter()
/// meter.add(1_048_576, at: 10.0)
/// meter.rate(at: 11.0)   // 1 MiB over the one second measured so far: 1048576
/// ```
public struct RateMeter: Sendable, Equatable {
    /// The window, in seconds.
    public static let window = 3.0
    private static let bucket = 0.25

    private var buckets: [(start: Double, bytes: Int)] = []
    private var firstSample: Double?

    public init() {}

    /// Records `bytes` moved at time `time` (seconds).
    public mutating func add(_ bytes: Int, at time: Double) {
        if firstSample == nil { firstSample = time }
        let start = (time / Self.bucket).rounded(.down) * Self.bucket
        if let last = buckets.last, last.start == start {
            buckets[buckets.count - 1].bytes += bytes
        } else {
            buckets.append((start, bytes))
        }
        buckets.removeAll { $0.start < time - Self.window - Self.bucket }
    }

    /// Bytes per second over the last few seconds, at time `time`.
    public func rate(at time: Double) -> Double {
        guard let firstSample else { return 0 }
        let span = max(1.0, min(Self.window, time - firstSample))
        let recent = buckets.filter { $0.start >= time - span - Self.bucket / 2 }.reduce(0) { $0 + $1.bytes }
        return Double(recent) / span
    }

    public static func == (lhs: RateMeter, rhs: RateMeter) -> Bool {
        lhs.firstSample == rhs.firstSample && lhs.buckets.map(\.start) == rhs.buckets.map(\.start)
            && lhs.buckets.map(\.bytes) == rhs.buckets.map(\.bytes)
    }
}
