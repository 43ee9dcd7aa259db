import Synchronization
import Testing

@testable import SwarmCore

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SignalTrapTests {
    /// Waits (at most 10 s) until `received` holds something.
    private func waitForDelivery<T>(_ received: borrowing Mutex<[T]>) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A trapped signal, sent once right after the trap is made, reaches the handler instead of
    /// its default action; once cancelled, the default action is back (so a second Ctrl-C while
    /// a client finishes stopping ends it).
    @Test func trappedSignalReachesTheHandlerAndCancelGivesTheDefaultBack() async throws {
        let received = Mutex<[Int32]>([])
        let trap = SignalTrap(signals: [SIGUSR1]) { number in received.withLock { $0.append(number) } }
        kill(getpid(), SIGUSR1)
        try await waitForDelivery(received)
        #expect(received.withLock { $0 } == [SIGUSR1])
        trap.cancel()
        // Swapping in the default again returns what was set: the default, not "ignore".
        let previous = signal(SIGUSR1, SIG_DFL)
        #expect(unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_DFL, to: Int.self))
    }

    /// A trap handed on with `setHandler` sends the signals to the new handler only.
    @Test func handedOnTrapCallsTheNewHandler() async throws {
        let received = Mutex<[String]>([])
        let trap = SignalTrap(signals: [SIGUSR2]) { _ in received.withLock { $0.append("first") } }
        defer { trap.cancel() }
        trap.setHandler { _ in received.withLock { $0.append("second") } }
        kill(getpid(), SIGUSR2)
        try await waitForDelivery(received)
        #expect(received.withLock { $0 } == ["second"])
    }

    /// A new trap on a signal whose earlier trap was cancelled hears it, as does a trap on a
    /// signal sent from another thread than the one that made it.
    @Test func aTrapMadeAfterAnotherWasCancelledHearsTheSignal() async throws {
        SignalTrap(signals: [SIGUSR1]) { _ in }.cancel()
        let received = Mutex<[Int32]>([])
        let trap = SignalTrap(signals: [SIGUSR1]) { number in received.withLock { $0.append(number) } }
        defer { trap.cancel() }
        await Task.detached { _ = kill(getpid(), SIGUSR1) }.value
        try await waitForDelivery(received)
        #expect(received.withLock { $0 } == [SIGUSR1])
    }
}
