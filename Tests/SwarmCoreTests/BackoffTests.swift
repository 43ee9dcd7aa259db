import Testing

@testable import SwarmCore

@Suite struct BackoffTests {
    @Test func growsThenStaysUnderTheCap() {
        let backoff = Backoff(initial: .milliseconds(250), cap: .seconds(3), jitter: 0.2)
        var generator = SplitMix64(seed: 1)
        let delays = (0..<12).map { backoff.delay(attempt: $0, using: &generator) }
        #expect(delays[0] >= .milliseconds(200) && delays[0] <= .milliseconds(300))
        #expect(delays[3] > delays[0])
        #expect(delays.allSatisfy { $0 <= .seconds(3) })
        #expect(delays.last! >= .milliseconds(2400))
    }

    @Test func jitterSpreadsClientsApart() {
        let backoff = Backoff()
        var generator = SplitMix64(seed: 3)
        let delays = Set((0..<20).map { _ in backoff.delay(attempt: 2, using: &generator) })
        #expect(delays.count > 10)
    }
}
