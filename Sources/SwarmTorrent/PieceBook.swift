import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// The download's bookkeeping, as a pure value: which pieces are held, which are being fetched
/// block by block and from whom, how many connected peers hold each piece.
///
/// Pieces are chosen by the classic engine's ``ChunkPicker`` (the user's requests first, then
/// rarest first among the pieces the peer has), a piece being a chunk numbered from 1. Several
/// peers may fill one piece; once every piece still missing is under way (the endgame), a peer
/// is also asked for blocks already asked of others, and the first copy to arrive wins.
struct PieceBook {
    /// Where one block of a piece under way stands. Peers are named by connection number.
    enum BlockState: Equatable {
        case missing
        case requested(Set<Int>)
        case received(from: Int)
    }

    /// A piece under way.
    struct Progress {
        var blocks: [BlockState]
        var receivedCount = 0
        /// When the first block was asked for, for the fetched event's time.
        var started: ContinuousClock.Instant
    }

    /// What a received block means.
    enum Arrival: Equatable {
        /// Nobody asked this peer for it.
        case unrequested
        /// Another copy came first (endgame): drop it.
        case duplicate
        /// Keep it; `cancelAt` are the other peers asked for the same block.
        case accepted(cancelAt: Set<Int>, pieceComplete: Bool)
    }

    let pieceCount: Int
    let pieceLength: Int
    let totalLength: Int64
    private(set) var held: Bitfield
    /// Pieces whose blocks are all in, being checked.
    private(set) var verifying: Set<Int> = []
    private(set) var progress: [Int: Progress] = [:]
    /// Connected peers holding each piece.
    private(set) var availability: [Int]
    /// Pieces the user asked for, first come first, until held.
    private(set) var requested: [Int] = []
    /// Whether new pieces are started only when the user asked for them.
    var paused = false
    /// Lowest index first instead of rarest first.
    var sequential = false
    /// Pieces that reach into a file not skipped: the others are never fetched.
    private(set) var wanted: [Bool]
    /// Pieces that reach into a file of high priority: fetched before the others.
    private(set) var urgent: [Int] = []

    init(pieceCount: Int, pieceLength: Int, totalLength: Int64, held: Bitfield) {
        self.pieceCount = pieceCount
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.held = held
        self.availability = [Int](repeating: 0, count: pieceCount)
        self.wanted = [Bool](repeating: true, count: pieceCount)
    }

    /// Which pieces are wanted, and which of them come first (from the files' priorities).
    mutating func setWanted(_ wanted: [Bool], urgent: [Int]) {
        self.wanted = wanted
        self.urgent = urgent.sorted()
    }

    /// Whether `piece` is still to be fetched: not held, and wanted (its files not all skipped)
    /// or asked for by the user.
    func wants(_ piece: Int) -> Bool {
        !held[piece] && (wanted[piece] || requested.contains(piece))
    }

    /// How many of the pieces a peer holds (`has`) are still to be fetched: we are interested in
    /// it while this is above 0.
    func wantedCount(in has: Bitfield) -> Int {
        has.heldPieces.reduce(0) { $0 + (wants($1) ? 1 : 0) }
    }

    /// Whether every wanted piece is held (every piece, when no file is skipped).
    var isFinished: Bool {
        (0..<pieceCount).allSatisfy { held[$0] || !wanted[$0] }
    }

    /// Bytes in piece `piece`.
    func length(ofPiece piece: Int) -> Int {
        Int(min(Int64(pieceLength), totalLength - Int64(piece) * Int64(pieceLength)))
    }

    /// The blocks of piece `piece`.
    func blockCount(ofPiece piece: Int) -> Int {
        (length(ofPiece: piece) + BlockRequest.standardLength - 1) / BlockRequest.standardLength
    }

    /// Block `block` of piece `piece` as a request.
    func request(piece: Int, block: Int) -> BlockRequest {
        let begin = block * BlockRequest.standardLength
        return BlockRequest(piece: piece, begin: begin, length: min(BlockRequest.standardLength, length(ofPiece: piece) - begin))
    }

    /// Whether every piece is held.
    var isComplete: Bool { held.isFull }

    /// Bytes still missing of the wanted pieces.
    var bytesLeft: Int64 {
        (0..<pieceCount).reduce(Int64(0)) { $0 + (held[$1] || !wanted[$1] ? 0 : Int64(length(ofPiece: $1))) }
    }

    // MARK: Availability

    /// A peer announced `pieces` (its bitfield, or one `have`).
    mutating func peerHas(_ pieces: [Int]) {
        for piece in pieces { availability[piece] += 1 }
    }

    /// A peer holding `pieces` is gone.
    mutating func peerLeft(holding pieces: [Int]) {
        for piece in pieces { availability[piece] = max(0, availability[piece] - 1) }
    }

    /// Asks for piece `piece` first (the `r` key); `false` when it is held already.
    mutating func prioritise(_ piece: Int) -> Bool {
        guard !held[piece] else { return false }
        if !requested.contains(piece) { requested.append(piece) }
        return true
    }

    // MARK: Requests

    /// Up to `count` blocks to ask of peer `peer`, which holds `peerHas`: first the missing
    /// blocks of pieces under way, then new pieces by the picker, then, in the endgame, blocks
    /// already asked of others.
    mutating func nextRequests(for peer: Int, peerHas: Bitfield, count: Int, now: ContinuousClock.Instant = .now) -> [BlockRequest] {
        var picked: [BlockRequest] = []
        guard count > 0 else { return picked }
        // Pieces under way first, the user's requests before others, so they complete.
        let underWay = progress.keys.filter { peerHas[$0] }.sorted { (requested.contains($0) ? 0 : 1, $0) < (requested.contains($1) ? 0 : 1, $1) }
        for piece in underWay where picked.count < count {
            take(from: piece, for: peer, into: &picked, count: count, duplicates: false)
        }
        while picked.count < count, let piece = nextPiece(for: peerHas) {
            progress[piece] = Progress(blocks: Array(repeating: .missing, count: blockCount(ofPiece: piece)), started: now)
            take(from: piece, for: peer, into: &picked, count: count, duplicates: false)
        }
        if picked.count < count, isEndgame {
            for piece in underWay where picked.count < count {
                take(from: piece, for: peer, into: &picked, count: count, duplicates: true)
            }
        }
        return picked
    }

    /// Whether every missing wanted piece is under way or being checked.
    var isEndgame: Bool {
        (0..<pieceCount).allSatisfy { held[$0] || !wanted[$0] || verifying.contains($0) || progress[$0] != nil }
    }

    private mutating func take(from piece: Int, for peer: Int, into picked: inout [BlockRequest], count: Int, duplicates: Bool) {
        guard var entry = progress[piece] else { return }
        for block in entry.blocks.indices where picked.count < count {
            switch entry.blocks[block] {
            case .missing:
                entry.blocks[block] = .requested([peer])
                picked.append(request(piece: piece, block: block))
            case .requested(var peers) where duplicates && !peers.contains(peer):
                peers.insert(peer)
                entry.blocks[block] = .requested(peers)
                picked.append(request(piece: piece, block: block))
            default:
                break
            }
        }
        progress[piece] = entry
    }

    /// The next piece to start for a peer holding `peerHas`, by ``ChunkPicker``.
    private func nextPiece(for peerHas: Bitfield) -> Int? {
        var lacking = Set<ChunkIndex>()
        var availabilityByChunk: [ChunkIndex: Int] = [:]
        for piece in 0..<pieceCount {
            if peerHas[piece], wanted[piece] {
                availabilityByChunk[ChunkIndex(piece + 1)] = availability[piece]
            } else {
                lacking.insert(ChunkIndex(piece + 1))
            }
        }
        // The user's pieces first, then (unless paused) those of high-priority files.
        let first = requested + (paused ? [] : urgent.filter { !held[$0] && peerHas[$0] && progress[$0] == nil && !verifying.contains($0) })
        let input = PickerInput(
            total: pieceCount,
            held: Set(held.heldPieces.map { ChunkIndex($0 + 1) }).union(verifying.map { ChunkIndex($0 + 1) }),
            inFlight: Set(progress.keys.map { ChunkIndex($0 + 1) }),
            availability: availabilityByChunk,
            waiting: lacking,
            requested: first.map { ChunkIndex($0 + 1) },
            paused: paused,
            freeSlots: 1,
            sequential: sequential
        )
        return ChunkPicker.plan(input).first.map { $0.value - 1 }
    }

    // MARK: Arrivals

    /// Block `request` arrived from `peer`.
    mutating func received(_ request: BlockRequest, from peer: Int) -> Arrival {
        guard var entry = progress[request.piece], request.begin % BlockRequest.standardLength == 0 else { return .unrequested }
        let block = request.begin / BlockRequest.standardLength
        guard entry.blocks.indices.contains(block), self.request(piece: request.piece, block: block) == request else { return .unrequested }
        switch entry.blocks[block] {
        case .received:
            return .duplicate
        case .missing:
            return .unrequested
        case .requested(let peers):
            guard peers.contains(peer) else { return .unrequested }
            entry.blocks[block] = .received(from: peer)
            entry.receivedCount += 1
            let complete = entry.receivedCount == entry.blocks.count
            if complete {
                progress[request.piece] = nil
                verifying.insert(request.piece)
            } else {
                progress[request.piece] = entry
            }
            return .accepted(cancelAt: peers.subtracting([peer]), pieceComplete: complete)
        }
    }

    /// A piece's check ended: held when it matched, else thrown away to be fetched again.
    mutating func checked(_ piece: Int, matched: Bool) {
        verifying.remove(piece)
        if matched {
            held[piece] = true
            requested.removeAll { $0 == piece }
        }
    }

    /// Peer `peer` will not send what was asked of it (gone, or choked us): its blocks go back.
    mutating func release(_ peer: Int) {
        for piece in Array(progress.keys) {
            for block in progress[piece]!.blocks.indices {
                if case .requested(var peers) = progress[piece]!.blocks[block], peers.contains(peer) {
                    peers.remove(peer)
                    progress[piece]!.blocks[block] = peers.isEmpty ? .missing : .requested(peers)
                }
            }
            dropIfUntouched(piece)
        }
    }

    /// Peer `peer` refused `request` (BEP 6 `reject`), or it timed out.
    mutating func release(_ request: BlockRequest, of peer: Int) {
        let block = request.begin / BlockRequest.standardLength
        guard let entry = progress[request.piece], entry.blocks.indices.contains(block),
            case .requested(var peers) = entry.blocks[block], peers.contains(peer)
        else { return }
        peers.remove(peer)
        progress[request.piece]!.blocks[block] = peers.isEmpty ? .missing : .requested(peers)
        dropIfUntouched(request.piece)
    }

    /// A piece with nothing received and nothing asked is no longer under way.
    private mutating func dropIfUntouched(_ piece: Int) {
        guard let entry = progress[piece], entry.receivedCount == 0, entry.blocks.allSatisfy({ $0 == .missing }) else { return }
        progress[piece] = nil
    }
}
