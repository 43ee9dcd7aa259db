import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns stop signals (SIGINT, SIGTERM, SIGHUP) into a callback on a dispatch queue, so a
/// process can stop cleanly (close sockets, write what it owes the disk, give the terminal back)
/// instead of dying mid-write.
///
/// `@unchecked Sendable`: the sources are set once in `init` and dispatch sources are thread-safe.
public final class SignalTrap: @unchecked Sendable {
    private let signals: [Int32]
    private let sources: [any DispatchSourceSignal]

    /// Ignores the default action of `signals` and calls `handler` with each one received.
    public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        let queue = DispatchQueue(label: "swarm.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Stops listening; the signals' default actions come back, so a second Ctrl-C while the
    /// process finishes stopping ends it at once.
    public func cancel() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}
