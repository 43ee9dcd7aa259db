import Crypto
import NIOCore
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// Blocks both ways: asked for, received, checked a piece at a time, and served.
extension TorrentSession {
    /// A block arrived: kept when we asked for it, dropped when another copy came first or we
    /// cancelled it, refused when nobody asked.
    func blockArrived(from id: Int, piece: Int, begin: Int, length: Int) -> BlockVerdict {
        guard var peer = peers[id] else { return .drop }
        let request = BlockRequest(piece: piece, begin: begin, length: length)
        peer.lastHeard = .now
        defer { peers[id] = peer }
        guard peer.outstanding.removeValue(forKey: request) != nil else {
            if peer.cancelled.remove(request) != nil { return .drop }
            return .refuse("sent \(request), which was never requested")
        }
        peer.lastBlock = .now
        peer.receivedSinceChoke += length
        downloaded += Int64(length)
        emit(.receiving(ChunkIndex(piece + 1), from: peer.address, bytes: length))
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
            blockSenders[piece, default: [:]][begin / BlockRequest.standardLength] = BlockSender(peerID: peer.peerID, address: peer.address)
            pendingWrites[piece, default: 0] += 1
            if complete { awaitingCheck.insert(piece) }
            fill(&peer)
            return .store
        }
    }

    /// A block's write ended; the piece is checked once its last write is done.
    func blockStored(piece: Int, failure: String?) {
        pendingWrites[piece, default: 1] -= 1
        if let failure { emit(.problem("cannot write piece \(piece + 1): \(failure)")) }
        guard pendingWrites[piece] == 0, awaitingCheck.remove(piece) != nil else { return }
        pendingWrites[piece] = nil
        Task { await self.check(piece) }
    }

    /// Checks a whole piece: held, announced and recorded when its SHA-1 matched; else thrown
    /// away, with a strike for each peer whose block is shown to be bad (libtorrent's smart ban:
    /// with one sender, it is that one; with several, the SHA-1 of each block they sent is
    /// kept and compared with the good copy's once it has come).
    func check(_ piece: Int) async {
        let matched = (try? await storage.verify(piece: piece)) ?? false
        let senders = blockSenders.removeValue(forKey: piece) ?? [:]
        let index = ChunkIndex(piece + 1)
        let mainSender = Dictionary(grouping: senders.values, by: \.address).max { $0.value.count < $1.value.count }?.key
        guard matched else {
            if Set(senders.values.map(\.peerID)).count == 1, let only = senders.values.first {
                strike(only.peerID, address: only.address)
            } else {
                // Read while the piece is still being checked: no new block overwrites it yet.
                var suspects: [Int: (BlockSender, [UInt8])] = [:]
                for (block, sender) in senders {
                    if let digest = await blockDigest(piece: piece, block: block) { suspects[block] = (sender, digest) }
                }
                suspectBlocks[piece] = suspects
            }
            book.checked(piece, matched: false)
            pieceStarted[piece] = nil
            let names = Set(senders.values.map(\.address.description)).sorted().joined(separator: ", ")
            emit(.failed(index, from: mainSender, reason: "piece failed its SHA-1 check (blocks from \(names)); fetching it again"))
            for id in peers.keys { fillRequests(for: id) }
            return
        }
        book.checked(piece, matched: true)
        if let suspects = suspectBlocks.removeValue(forKey: piece) {
            for (block, (sender, digest)) in suspects {
                if let good = await blockDigest(piece: piece, block: block), good != digest { strike(sender.peerID, address: sender.address) }
            }
        }
        resumeDirty = true
        let length = metainfo.length(ofPiece: piece)
        let seconds = pieceStarted.removeValue(forKey: piece).map { (ContinuousClock.now - $0).seconds } ?? 0
        emit(.fetched(index, from: mainSender ?? PeerAddress(host: "0.0.0.0", port: 1)!, bytes: length, seconds: seconds))
        for id in Array(peers.keys) {
            guard var peer = peers[id] else { continue }
            peer.piecesAsked.remove(piece)
            if peer.has[piece] {
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

    /// The SHA-1 of one block as it is on disk.
    private func blockDigest(piece: Int, block: Int) async -> [UInt8]? {
        let request = book.request(piece: piece, block: block)
        guard let bytes = try? await storage.read(request) else { return nil }
        return bytes.withUnsafeReadableBytes { Array(Insecure.SHA1.hash(data: $0)) }
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
