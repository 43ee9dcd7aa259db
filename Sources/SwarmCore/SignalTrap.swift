import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns stop signals (SIGINT, SIGTERM, SIGHUP) into a callback on a dispatch queue, so a
/// process can stop cleanly (close sockets, write what it owes the disk, give the terminal back)
/// instead of dying mid-write. Keep one per process: a second trap on a signal, even one made
/// after the first was cancelled, may not hear it; hand the trap on with ``setHandler(_:)``.
///
/// `@unchecked Sendable`: the sources are set once in `init` and dispatch sources are thread-safe.
public final class SignalTrap: @unchecked Sendable {
    /// The signals that stop the client and the tracker cleanly (SIGHUP: their terminal closed).
    public static let stopSignals = [SIGINT, SIGTERM, SIGHUP]

    private let signals: [Int32]
    private let sources: [any DispatchSourceSignal]
    private let handler: Handler

    /// The callback, replaceable while the signals stay trapped.
    private final class Handler: Sendable {
        let current: Mutex<@Sendable (Int32) -> Void>
        init(_ handler: @escaping @Sendable (Int32) -> Void) { current = Mutex(handler) }
    }

    /// Ignores the default action of `signals` and calls `handler` with each one received.
    public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        let box = Handler(handler)
        self.handler = box
        let queue = DispatchQueue(label: "swarm.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { box.current.withLock { $0 }(number) }
            source.resume()
            return source
        }
    }

    /// Sends the signals to `handler` from now on.
    public func setHandler(_ handler: @escaping @Sendable (Int32) -> Void) {
        self.handler.current.withLock { $0 = handler }
    }

    /// Stops listening; the signals' default actions come back, so a second Ctrl-C while the
    /// process finishes stopping ends it at once.
    public func cancel() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}
