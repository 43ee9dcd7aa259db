import Synchronization

/// A rate limit in bytes per second, shared by every transfer it governs (token bucket).
///
/// Callers reserve bytes and wait the returned delay before moving them, so many transfers
/// together stay under the limit while short bursts (up to `burst` bytes) go through at once.
///
/// ```swift
/// let limit = TokenBucket(bytesPerSecond: 64 * 1024)
/// let wait = limit.reserve(16 * 1024)   // .zero while the burst lasts, then about 0.25 s per 16 KiB
/// ```
public final class TokenBucket: Sendable {
    /// The sustained rate.
    public let bytesPerSecond: Double
    /// Bytes that may go at once after an idle spell.
    public let burst: Double
    private let state: Mutex<(tokens: Double, last: ContinuousClock.Instant)>

    /// A limit of `bytesPerSecond`, with a burst of a quarter second's worth (at least 16 KiB).
    public init(bytesPerSecond: Double, burst: Double? = nil) {
        precondition(bytesPerSecond > 0)
        self.bytesPerSecond = bytesPerSecond
        self.burst = burst ?? max(16 * 1024, bytesPerSecond / 4)
        state = Mutex((self.burst, .now))
    }

    /// Takes `bytes` from the bucket; returns how long to wait before moving them.
    public func reserve(_ bytes: Int, now: ContinuousClock.Instant = .now) -> Duration {
        state.withLock { state in
            let elapsed = max(0, (now - state.last).seconds)
            state.tokens = min(burst, state.tokens + elapsed * bytesPerSecond) - Double(bytes)
            state.last = now
            guard state.tokens < 0 else { return .zero }
            return .milliseconds(Int((-state.tokens / bytesPerSecond * 1000).rounded(.up)))
        }
    }
}
