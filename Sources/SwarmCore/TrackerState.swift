/// The client's link to its tracker, as the UI and the log show it.
public enum TrackerState: Sendable, Equatable, CustomStringConvertible {
    /// Dialling the tracker.
    case connecting
    /// Connected; `fastPath` when it is our own tracker and messages may be pipelined.
    case connected(fastPath: Bool)
    /// Down; the next attempt is in `delay`.
    case retrying(in: Duration, reason: String)

    public var description: String {
        switch self {
        case .connecting: return "connecting"
        case .connected(let fast): return fast ? "connected" : "connected (seed-era tracker)"
        case .retrying(let delay, let reason): return "retrying in \(delay.secondsText) (\(reason))"
        }
    }
}

extension Duration {
    /// Seconds with one decimal, e.g. `1.5 s`.
    public var secondsText: String {
        let (seconds, attoseconds) = components
        let tenths = Int((Double(seconds) + Double(attoseconds) / 1e18) * 10 + 0.5)
        return "\(tenths / 10).\(tenths % 10) s"
    }

    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
