import Testing

@testable import SwarmCore

@Suite struct EndgamePolicyTests {
    @Test func noFetchIsDuplicatedBeforeASecond() {
        var policy = EndgamePolicy()
        #expect(!policy.isSlow(age: .milliseconds(999)))
        #expect(policy.isSlow(age: .seconds(1)), "with nothing completed yet, a second is the bar")
        policy.record(.milliseconds(10))
        #expect(!policy.isSlow(age: .milliseconds(500)), "fast fetches do not lower the bar under a second")
    }

    @Test func aFetchIsSlowAtTwiceTheMedianOfRecentOnes() {
        var policy = EndgamePolicy()
        for seconds in [3, 5, 4, 100, 4] { policy.record(.seconds(seconds)) }
        #expect(policy.typical == .seconds(4), "one outlier does not move the median")
        #expect(!policy.isSlow(age: .milliseconds(7_999)))
        #expect(policy.isSlow(age: .seconds(8)))
    }

    @Test func onlyTheLastSixteenFetchesCount() {
        var policy = EndgamePolicy()
        for _ in 0..<20 { policy.record(.seconds(60)) }
        for _ in 0..<EndgamePolicy.remembered { policy.record(.seconds(2)) }
        #expect(policy.typical == .seconds(2))
        #expect(policy.isSlow(age: .seconds(4)))
    }
}
