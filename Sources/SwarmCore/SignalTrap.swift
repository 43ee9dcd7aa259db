import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns SIGINT/SIGTERM into a callback on a dispatch queue, so a process can stop cleanly
/// (close sockets, give the terminal back) instead of dying mid-write.
///
/// `@unchecked Sendable`: the sources are set once in `init` and dispatch sources are thread-safe.
public final class SignalTrap: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    /// Ignores the default action of `signals` and calls `handler` with each one received.
    public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "swarm.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Stops listening; the signals' default actions come back.
    public func cancel() {
        for source in sources { source.cancel() }
    }
}
