/// The standard choker: a few regular upload slots for the interested peers that give the most
/// (the fastest to download from while leeching; the fastest to upload to while seeding), and
/// one optimistic slot that rotates every ``optimisticPeriod`` among the others, so a newcomer
/// gets a chance to show its rate. Pure: rates and time are passed in.
struct Choker {
    /// A peer as the choker sees it.
    struct Candidate {
        var id: Int
        var interested: Bool
        /// Bytes per second: from it while leeching, to it while seeding.
        var rate: Double
    }

    /// Regular slots.
    var slots = 4
    /// How long the optimistic slot stays with one peer.
    var optimisticPeriod: Duration = .seconds(30)
    private(set) var optimistic: Int?
    private var optimisticSince: ContinuousClock.Instant?

    /// The peers to unchoke now; every other one is choked.
    mutating func unchoked(_ candidates: [Candidate], now: ContinuousClock.Instant) -> Set<Int> {
        let interested = candidates.filter(\.interested)
        let regular = interested.sorted { ($0.rate, -$0.id) > ($1.rate, -$1.id) }.prefix(slots).map(\.id)
        var chosen = Set(regular)
        let others = interested.map(\.id).filter { !chosen.contains($0) }
        let expired = optimisticSince.map { now - $0 >= optimisticPeriod } ?? true
        if let current = optimistic, others.contains(current), !expired {
            chosen.insert(current)
        } else if let next = others.randomElement() {
            optimistic = next
            optimisticSince = now
            chosen.insert(next)
        } else {
            optimistic = nil
        }
        return chosen
    }
}
