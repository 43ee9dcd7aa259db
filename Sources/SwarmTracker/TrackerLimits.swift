import NIOCore
import Synchronization

/// Bounds that keep a tracker's memory and sockets in check whatever clients do.
public struct TrackerLimits: Sendable {
    /// A connection that has sent nothing valid for this long is closed. A connection that did
    /// (a client's persistent link, idle while it seeds) stays open.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// Connections open at once; more are closed as they arrive.
    public var maxConnections = 4096
    /// Registrations one connection may make; past that it is closed.
    public var maxRegistrationsPerConnection = 1_000_000

    public init() {}
}

/// Counts open connections against ``TrackerLimits/maxConnections``.
final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)

    /// Takes a place; `false` when all are taken.
    func admit(limit: Int) -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives a place back.
    func release() { open.wrappingSubtract(1, ordering: .relaxed) }

    /// Connections open now.
    var current: Int { open.load(ordering: .relaxed) }
}
