/// Exponential backoff with jitter, capped: how long to wait before retry number `attempt`.
///
/// ```swift
/// let backoff = Backoff(initial: .milliseconds(250), cap: .seconds(3))
/// backoff.delay(attempt: 0)   // about 0.25 s
/// backoff.delay(attempt: 10)  // about 3 s, never more
/// ```
public struct Backoff: Sendable {
    /// The first delay.
    public var initial: Duration
    /// The longest delay.
    public var cap: Duration
    /// Fraction of random spread around each delay (0.2 = ±20 %), so clients do not retry in lockstep.
    public var jitter: Double

    public init(initial: Duration = .milliseconds(250), cap: Duration = .seconds(3), jitter: Double = 0.2) {
        self.initial = initial
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay before retry `attempt` (0-based).
    public func delay<R: RandomNumberGenerator>(attempt: Int, using generator: inout R) -> Duration {
        let base = min(initial.seconds * pow2(min(attempt, 30)), cap.seconds)
        let spread = base * jitter
        let value = min(base + Double.random(in: -spread...spread, using: &generator), cap.seconds)
        return .milliseconds(Int(max(value, 0) * 1000))
    }

    /// The delay before retry `attempt`, with the system's random numbers.
    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }

    private func pow2(_ exponent: Int) -> Double { Double(1 << exponent) }
}
