/// When the endgame asks a second holder for a chunk that is already being fetched.
///
/// A second copy costs a peer a whole chunk of upload, so it is asked for only when the first
/// fetch looks stuck: when it has run longer than ``slowFactor`` times the typical fetch of this
/// download (the median of the last ``remembered`` ones), and at least ``minimumAge``. Fetches
/// that are merely the last to finish on a healthy swarm never get a second copy.
///
/// ```swift
/// var policy = EndgamePolicy()
/// policy.record(.milliseconds(80))                        // fetches take about 80 ms
/// policy.isSlow(age: .milliseconds(300))                  // false: under a second
/// policy.isSlow(age: .seconds(2))                         // true
/// ```
public struct EndgamePolicy: Sendable {
    /// A fetch younger than this is never duplicated.
    public static let minimumAge: Duration = .seconds(1)
    /// How many times the typical fetch a fetch must have run.
    public static let slowFactor = 2
    /// How many recent fetch times the typical one is taken from.
    public static let remembered = 16

    private var recent: [Duration] = []

    public init() {}

    /// Notes how long a fetch that completed took.
    public mutating func record(_ duration: Duration) {
        recent.append(duration)
        if recent.count > Self.remembered { recent.removeFirst(recent.count - Self.remembered) }
    }

    /// The median of the recent fetch times, if any fetch completed yet.
    public var typical: Duration? {
        guard !recent.isEmpty else { return nil }
        return recent.sorted()[recent.count / 2]
    }

    /// Whether a fetch running for `age` deserves a second copy.
    public func isSlow(age: Duration) -> Bool {
        age >= max(Self.minimumAge, (typical ?? .zero) * Self.slowFactor)
    }
}
