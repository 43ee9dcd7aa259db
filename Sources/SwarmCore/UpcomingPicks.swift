import SwarmProtocol

/// The chunks a plan ranked beyond the slots free when it was made, taken by the next slots
/// to free while they are fresh: a plan reads every chunk of the file (0.45 ms for 100,000), so
/// one is made per ``extra`` fetches, not per fetch.
struct UpcomingPicks {
    /// How many chunks a plan ranks beyond the free slots.
    static let extra = 32
    /// How long they stay good: availability changes as the survey and fetches go on.
    static let freshness: Duration = .milliseconds(250)

    private var picks: [ChunkIndex] = []
    private var madeAt: ContinuousClock.Instant?

    /// The next `count` chunks: kept ones that are still `usable`, if they are fresh, enough, and
    /// `mayReuse` (nothing the user asked for waits, not paused); otherwise the first of
    /// `plan(count + extra)`, keeping the rest.
    mutating func take(
        _ count: Int,
        now: ContinuousClock.Instant,
        mayReuse: Bool,
        usable: (ChunkIndex) -> Bool,
        plan: (Int) -> [ChunkIndex]
    ) -> [ChunkIndex] {
        guard count > 0 else { return [] }
        if mayReuse, let madeAt, now - madeAt < Self.freshness {
            let fresh = picks.filter(usable)
            if fresh.count >= count {
                picks = Array(fresh.dropFirst(count))
                return Array(fresh.prefix(count))
            }
        }
        let planned = plan(count + Self.extra)
        (picks, madeAt) = (Array(planned.dropFirst(count)), now)
        return Array(planned.prefix(count))
    }
}
