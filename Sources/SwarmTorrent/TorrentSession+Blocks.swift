import Crypto
import NIOCore
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// Blocks both ways: asked for, received, checked a piece at a time, and served.
extension TorrentSession {
    /// A block arrived: kept in its piece's assembly when we asked for it (the whole piece
    /// handed back once it is complete, to be checked and written), dropped when another copy
    /// came first or we cancelled it, refused when nobody asked.
    func blockArrived(from id: Int, piece: Int, begin: Int, block: ByteBuffer) -> BlockVerdict {
        guard var peer = peers[id] else { return .drop }
        let request = BlockRequest(piece: piece, begin: begin, length: block.readableBytes)
        peer.lastHeard = .now
        defer { peers[id] = peer }
        guard peer.outstanding.removeValue(forKey: request) != nil else {
            if peer.cancelled.remove(request) != nil { return .drop }
            return .refuse("sent \(request), which was never requested")
        }
        peer.lastBlock = .now
        peer.receivedSinceChoke += request.length
        peer.receivedSinceTick += request.length
        downloaded += Int64(request.length)
        emit(.receiving(ChunkIndex(piece + 1), from: peer.address, bytes: request.length))
        switch book.received(request, from: id) {
        case .unrequested, .duplicate:
            fill(&peer)
            return .drop
        case .accepted(let cancelAt, let complete):
            for other in cancelAt where other != id {
                guard var otherPeer = peers[other], otherPeer.outstanding.removeValue(forKey: request) != nil else { continue }
                otherPeer.cancelled.insert(request)
                otherPeer.link.send(.cancel(request))
                peers[other] = otherPeer
            }
            let sender = BlockSender(peerID: peer.peerID, address: peer.address)
            if assemblies[piece] == nil { assemblies[piece] = PieceAssembly(length: metainfo.length(ofPiece: piece)) }
            assemblies[piece]!.add(block, at: begin, from: sender)
            fill(&peer)
            guard complete, let assembly = assemblies.removeValue(forKey: piece) else { return .kept }
            return .complete(assembly)
        }
    }

    /// A complete piece was checked against its SHA-1 (and written when it matched): held,
    /// announced and recorded; else thrown away, with a strike for each peer whose block is
    /// shown to be bad (libtorrent's smart ban: with one sender, it is that one; with several,
    /// the SHA-1 of each block they sent is kept and compared with the good copy's once it has
    /// come). A piece that could not be written is fetched again.
    func pieceCommitted(_ piece: Int, _ assembly: PieceAssembly, outcome: Result<Bool, any Error>) async {
        let index = ChunkIndex(piece + 1)
        let senders = assembly.senders
        let mainSender = Dictionary(grouping: senders.values, by: \.address).max { $0.value.count < $1.value.count }?.key
        guard case .success(true) = outcome else {
            if case .failure(let error) = outcome {
                emit(.failed(index, from: mainSender, reason: "cannot write piece \(piece + 1): \(error); fetching it again"))
            } else {
                if Set(senders.values.map(\.peerID)).count == 1, let only = senders.values.first {
                    strike(only.peerID, address: only.address)
                } else {
                    var suspects: [Int: (BlockSender, [UInt8])] = [:]
                    for (block, sender) in senders { suspects[block] = (sender, PieceAssembly.digest(of: block, in: assembly.bytes)) }
                    suspectBlocks[piece] = suspects
                }
                let names = Set(senders.values.map(\.address.description)).sorted().joined(separator: ", ")
                emit(.failed(index, from: mainSender, reason: "piece failed its SHA-1 check (blocks from \(names)); fetching it again"))
            }
            book.checked(piece, matched: false)
            pieceStarted[piece] = nil
            for id in peers.keys { fillRequests(for: id) }
            return
        }
        let wasWanted = book.wants(piece)
        book.checked(piece, matched: true)
        for (block, (sender, digest)) in suspectBlocks.removeValue(forKey: piece) ?? [:]
        where PieceAssembly.digest(of: block, in: assembly.bytes) != digest {
            strike(sender.peerID, address: sender.address)
        }
        resumeDirty = true
        let length = metainfo.length(ofPiece: piece)
        let seconds = pieceStarted.removeValue(forKey: piece).map { (ContinuousClock.now - $0).seconds } ?? 0
        emit(.fetched(index, from: mainSender ?? PeerAddress(host: "0.0.0.0", port: 1)!, bytes: length, seconds: seconds))
        for id in Array(peers.keys) {
            guard var peer = peers[id] else { continue }
            peer.piecesAsked.remove(piece)
            if peer.has[piece], wasWanted {
                peer.wanted -= 1
                updateInterest(&peer)
            }
            peer.link.send(.have(piece: piece))
            peer.lastSent = .now
            peers[id] = peer
        }
        if book.isComplete { await finishDownload() }
        if book.isFinished { finished.yield() }
    }

    /// One more piece with bad data from peer `peerID`; banned for the run at the limit.
    func strike(_ peerID: [UInt8], address: PeerAddress) {
        badPieces[peerID, default: 0] += 1
        let count = badPieces[peerID]!
        guard count >= configuration.maxBadPieces, bannedIDs.insert(peerID).inserted else { return }
        logger.warning("banning \(address): \(count) pieces with bad data")
        emit(.peerBanned(address, badChunks: count))
        for (id, peer) in peers where peer.peerID == peerID { drop(id, reason: "banned: \(count) pieces with bad data") }
    }

    /// Asks peer `id` for more blocks, up to its queue depth.
    func fillRequests(for id: Int) {
        guard var peer = peers[id] else { return }
        fill(&peer)
        peers[id] = peer
    }

    func fill(_ peer: inout ConnectedPeer) {
        guard peer.amInterested, !peer.peerChoking else { return }
        let wanted = peer.queueDepth - peer.outstanding.count
        guard wanted >= min(8, peer.queueDepth / 4) || peer.outstanding.isEmpty else { return }
        let requests = book.nextRequests(for: peer.link.id, peerHas: peer.has, count: wanted)
        guard !requests.isEmpty else { return }
        let now = ContinuousClock.now
        for request in requests {
            peer.outstanding[request] = now
            if pieceStarted[request.piece] == nil { pieceStarted[request.piece] = now }
            if peer.piecesAsked.insert(request.piece).inserted { emit(.requested(ChunkIndex(request.piece + 1), from: peer.address)) }
        }
        if peer.outstanding.count == requests.count { peer.lastBlock = now }
        peer.link.send(requests.map(PeerMessage.request))
        peer.lastSent = now
    }

    // MARK: Serving


    /// A block was asked of us: served when we hold it and do not choke the peer.
    func requestArrived(from id: Int, _ block: BlockRequest) -> RequestVerdict {
        guard var peer = peers[id] else { return .ignore }
        peer.lastHeard = .now
        peers[id] = peer
        guard block.piece < metainfo.pieceCount else { return .refuse("asked for piece \(block.piece), past the last (\(metainfo.pieceCount - 1))") }
        guard block.length > 0, block.length <= 128 << 10 else { return .refuse("asked for \(block.length) bytes at once (at most 128 KiB)") }
        guard block.begin + block.length <= metainfo.length(ofPiece: block.piece) else { return .refuse("asked for \(block), past the end of the piece") }
        guard book.held[block.piece] else { return .refuse("asked for piece \(block.piece), which we do not have") }
        guard !peer.amChoking else { return peer.fast ? .reject : .ignore }
        return .serve
    }

    /// A block went out.
    func sent(_ block: BlockRequest, to id: Int) {
        uploaded += Int64(block.length)
        guard var peer = peers[id] else { return }
        peer.sentSinceChoke += block.length
        peer.lastSent = .now
        peers[id] = peer
        emit(.uploaded(to: peer.address, bytes: block.length))
    }
}
