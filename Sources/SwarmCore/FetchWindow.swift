/// How many chunks are fetched at once, in all and from any one holder.
///
/// Each chunk comes over a connection of its own (the classic protocol: request, bytes, close),
/// which spends round trips on its handshake, its request and its slow start before its bytes
/// flow at the link's rate. On loopback or a LAN that costs nothing; on a long link, eight at a
/// time leave most of it idle (measured across a relay, 256 MiB: 43 MiB/s with 8 and 97 MiB/s
/// with 32 over a 60 ms round trip, 111 and 193 MiB/s over 20 ms). So unless the user set the
/// counts, the window widens by one fetch per millisecond of round trip, up to ``widest``: the
/// shortest handshake of the last ``samples`` connections, which no queue on the way lengthens.
public struct FetchWindow: Sendable {
    /// The counts on a short link (`-max-fetches`, `-max-fetches-per-peer`).
    public let total: Int
    public let perPeer: Int
    /// Whether the window widens on a long link (`false` when the user set the counts).
    public let adapts: Bool
    /// The most fetches at once a long link gets.
    public static let widest = 32
    /// How many recent handshakes are remembered.
    static let samples = 16

    private var roundTrips: [Duration] = []

    public init(total: Int, perPeer: Int, adapts: Bool) {
        self.total = total
        self.perPeer = perPeer
        self.adapts = adapts
    }

    /// A connection's handshake took `roundTrip`.
    public mutating func record(_ roundTrip: Duration) {
        roundTrips.append(roundTrip)
        if roundTrips.count > Self.samples { roundTrips.removeFirst() }
    }

    /// The fetches the link's round trip adds.
    private var widening: Int {
        guard adapts, let shortest = roundTrips.min() else { return 0 }
        let (seconds, attoseconds) = shortest.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// Fetches at once, in all.
    public var allowedTotal: Int { max(total, min(total + widening, Self.widest)) }

    /// Bytes each fetch gathers before a write to disk: 1 MiB with 8 at once, less with more, so
    /// that a wide window does not multiply the memory (each fetch holds the batch being written
    /// and the one being gathered): 8 MiB shared out, from 256 KiB to 1 MiB each. Measured across
    /// a 10 ms link with 32 at once: client peak RSS 186-192 MiB with 1 MiB batches, 91 MiB with
    /// 256 KiB ones.
    public var writeBatch: Int { min(max((8 << 20) / allowedTotal, 256 << 10), ChunkDownload.defaultBatchSize) }

    /// Fetches at once from any one holder.
    public var allowedPerPeer: Int { max(perPeer, min(perPeer + widening, allowedTotal)) }
}
