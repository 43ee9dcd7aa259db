import SwarmProtocol
import TorrentProtocol

/// One connected peer as the session sees it.
struct ConnectedPeer {
    let link: PeerLink
    let peerID: [UInt8]
    /// Both handshakes set BEP 6's bit.
    let fast: Bool
    /// What its client calls itself (BEP 10 `v`), or what its peer id says.
    var clientName: String
    /// Its number for `ut_metadata` (BEP 9), if it takes metadata messages.
    var metadataID: UInt8?
    var has: Bitfield
    /// Pieces it has that we still want (``PieceBook/wants(_:)``): we are interested while this
    /// is above 0.
    var wanted = 0
    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false
    /// Blocks asked of it, and when.
    var outstanding: [BlockRequest: ContinuousClock.Instant] = [:]
    /// Blocks we cancelled: one may still arrive, and is then dropped quietly.
    var cancelled: Set<BlockRequest> = []
    /// Pieces it was asked for, for one `requested` event per piece.
    var piecesAsked: Set<Int> = []
    /// Requests kept in flight: grows with its rate, so a fast link stays full.
    var queueDepth = ConnectedPeer.queueDepth(receivedPerSecond: 0)
    var lastHeard = ContinuousClock.now
    var lastSent = ContinuousClock.now
    var lastBlock = ContinuousClock.now
    /// `have` messages for pieces it had already announced.
    var repeatedHaves = 0
    /// Bytes received since the last second's upkeep, which sizes the queue by them.
    var receivedSinceTick = 0
    /// Bytes each way since the choker last looked.
    var receivedSinceChoke = 0
    var sentSinceChoke = 0

    var address: PeerAddress { link.address }

    /// The requests to keep in flight for a peer that sent `bytes` in the last second: a
    /// second's worth, at least 2 MiB (a new or slow peer) and at most 8 MiB (libtorrent's 500
    /// blocks), which also bounds the memory of the pieces being assembled from it.
    static func queueDepth(receivedPerSecond bytes: Int) -> Int {
        min(500, max(128, bytes / BlockRequest.standardLength))
    }
}

/// What a connection does with a `piece` it read.
enum BlockVerdict {
    /// Kept in its piece, which still lacks blocks.
    case kept
    /// Kept, and its piece is now complete: to be checked and written.
    case complete(PieceAssembly)
    case drop
    case refuse(String)
}

/// What a connection does with a `request` it read.
enum RequestVerdict {
    case serve
    case reject
    case ignore
    case refuse(String)
}

/// A peer broke the protocol, or left: its connection is closed for this reason.
struct PeerDrop: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
