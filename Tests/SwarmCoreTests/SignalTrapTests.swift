import Synchronization
import Testing

@testable import SwarmCore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SignalTrapTests {
    /// A trapped signal reaches the handler instead of its default action; once cancelled, the
    /// default action is back (so a second Ctrl-C while a client finishes stopping ends it).
    @Test func trappedSignalReachesTheHandlerAndCancelGivesTheDefaultBack() async throws {
        let received = Mutex<[Int32]>([])
        let trap = SignalTrap(signals: [SIGUSR1]) { number in received.withLock { $0.append(number) } }
        // Dispatch starts listening a moment after the trap is made; until then the signal is
        // ignored, so it is sent again until it arrives.
        let deadline = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
            kill(getpid(), SIGUSR1)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(received.withLock { $0.first } == SIGUSR1)
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
        let deadline = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
            kill(getpid(), SIGUSR2)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!received.withLock { $0 }.isEmpty)
        #expect(received.withLock { $0 }.allSatisfy { $0 == "second" })
    }
}
