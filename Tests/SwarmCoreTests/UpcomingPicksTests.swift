import SwarmProtocol
import Testing

@testable import SwarmCore

@Suite struct UpcomingPicksTests {
    /// A plan that ranks chunks 1, 2, 3, … and counts how often it was made.
    final class Planner {
        var plans = 0
        func plan(_ slots: Int) -> [ChunkIndex] {
            plans += 1
            return (1...slots).map(ChunkIndex.init)
        }
    }

    @Test func freshPicksServeTheNextSlotsWithoutANewPlan() {
        var upcoming = UpcomingPicks()
        let planner = Planner()
        let start = ContinuousClock.now
        #expect(upcoming.take(2, now: start, mayReuse: true, usable: { _ in true }, plan: planner.plan).map(\.value) == [1, 2])
        #expect(upcoming.take(3, now: start + .milliseconds(10), mayReuse: true, usable: { _ in true }, plan: planner.plan).map(\.value) == [3, 4, 5])
        #expect(planner.plans == 1, "one plan for both, with \(UpcomingPicks.extra) ranked ahead")
    }

    @Test func keptPicksNoLongerUsableAreSkipped() {
        var upcoming = UpcomingPicks()
        let planner = Planner()
        let start = ContinuousClock.now
        _ = upcoming.take(1, now: start, mayReuse: true, usable: { _ in true }, plan: planner.plan)
        // Chunks 2 and 3 were fetched meanwhile (by an endgame copy, say).
        let usable = { (index: ChunkIndex) in index.value > 3 }
        #expect(upcoming.take(2, now: start, mayReuse: true, usable: usable, plan: planner.plan).map(\.value) == [4, 5])
        #expect(planner.plans == 1)
    }

    /// A new plan when the kept picks are stale, when the caller may not reuse them (the user
    /// asked for a chunk, or fetching is paused), or when too few are left.
    @Test func stalePicksARequestOrTooFewMakeANewPlan() {
        var upcoming = UpcomingPicks()
        let planner = Planner()
        let start = ContinuousClock.now
        _ = upcoming.take(1, now: start, mayReuse: true, usable: { _ in true }, plan: planner.plan)
        _ = upcoming.take(1, now: start + UpcomingPicks.freshness, mayReuse: true, usable: { _ in true }, plan: planner.plan)
        #expect(planner.plans == 2, "stale")
        _ = upcoming.take(1, now: start + UpcomingPicks.freshness, mayReuse: false, usable: { _ in true }, plan: planner.plan)
        #expect(planner.plans == 3, "not to be reused")
        _ = upcoming.take(UpcomingPicks.extra + 1, now: start + UpcomingPicks.freshness, mayReuse: true, usable: { _ in true }, plan: planner.plan)
        #expect(planner.plans == 4, "too few kept")
        #expect(upcoming.take(0, now: start, mayReuse: true, usable: { _ in true }, plan: planner.plan).isEmpty)
        #expect(planner.plans == 4, "no slot, no plan")
    }
}
