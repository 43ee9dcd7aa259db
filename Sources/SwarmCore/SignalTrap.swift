import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns stop signals (SIGINT, SIGTERM, SIGHUP) into a callback on a dispatch queue, so a
/// process can stop cleanly (close sockets, write what it owes the disk, give the terminal back)
/// instead of dying mid-write.
///
/// The signals are caught by a handler of our own from the moment the trap is made, whichever
/// thread they land on; it only writes the signal's number into a pipe, and the callback runs
/// when the queue reads it. (libdispatch's signal sources were used before: on Linux they rely
/// on every thread blocking the signal, which threads started earlier do not, and under load a
/// signal could go unheard for more than 10 s; a second source on a signal, made after the
/// first was cancelled, never heard it.) A signal goes to the newest trap holding it; hand one
/// on with ``setHandler(_:)``.
public final class SignalTrap: Sendable {
    /// The signals that stop the client and the tracker cleanly (SIGHUP: their terminal closed).
    public static let stopSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Makes a write to a pipe whose reader is gone (`client -headless | head`, a closed test
    /// harness) fail with `EPIPE`, which the logs drop, instead of ending the process with
    /// SIGPIPE before it can clean up: a demo stopped then left its folder behind. NIO ignores
    /// SIGPIPE too, but only from its first socket on. Call first thing in `main`.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    private let signals: [Int32]
    private let handler: Handler

    /// The callback, replaceable while the signals stay trapped.
    private final class Handler: Sendable {
        let current: Mutex<@Sendable (Int32) -> Void>
        init(_ handler: @escaping @Sendable (Int32) -> Void) { current = Mutex(handler) }
    }

    /// Every trapped signal's handler, by signal number.
    private static let trapped = Mutex<[Int32: Handler]>([:])

    /// Catches `signals` instead of their default actions and calls `handler` with each one
    /// received, on a queue of its own.
    public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        self.handler = Handler(handler)
        Self.trapped.withLock { table in
            for number in signals { table[number] = self.handler }
        }
        for number in signals { SignalPipe.shared.catchSignal(number) }
    }

    /// Sends the signals to `handler` from now on.
    public func setHandler(_ handler: @escaping @Sendable (Int32) -> Void) {
        self.handler.current.withLock { $0 = handler }
    }

    /// Stops catching the signals; their default actions come back, so a second Ctrl-C while
    /// the process finishes stopping ends it at once.
    public func cancel() {
        let released = Self.trapped.withLock { table in
            signals.filter { number in
                guard table[number] === handler else { return false }
                table[number] = nil
                return true
            }
        }
        for number in released { signal(number, SIG_DFL) }
    }

    /// Calls the handler of the trap holding `number`, if any (on the pipe's queue).
    fileprivate static func deliver(_ number: Int32) {
        guard let handler = trapped.withLock({ $0[number] }) else { return }
        handler.current.withLock { $0 }(number)
    }
}

/// The write end of the signal pipe, read by the C signal handler (set once, before any
/// handler is installed).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The signal handler: async-signal-safe, it writes the signal's number into the pipe and
/// leaves `errno` as it found it. A full pipe (signals arriving faster than they are read)
/// drops the byte; the ones already in it are enough to stop.
private func forwardSignal(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}

/// A pipe from the signal handler to a dispatch queue, opened on first use, once per process.
///
/// `@unchecked Sendable`: its source is set once in `init`, and dispatch sources are thread-safe.
private final class SignalPipe: @unchecked Sendable {
    /// The process's pipe, read from its first use on.
    static let shared = SignalPipe()

    private let source: any DispatchSourceRead

    private init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "cannot make the signal pipe: \(String(cString: strerror(errno)))")
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        signalPipeWriteEnd = ends[1]
        let readEnd = ends[0]
        source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: DispatchQueue(label: "swarm.signals"))
        source.setEventHandler {
            var bytes = [UInt8](repeating: 0, count: 64)
            while true {
                let count = read(readEnd, &bytes, bytes.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                for byte in bytes[..<count] { SignalTrap.deliver(Int32(byte)) }
            }
        }
        source.resume()
    }

    /// Catches `number` with the handler that writes into this pipe.
    func catchSignal(_ number: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = forwardSignal
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(number, &action, nil)
    }
}
