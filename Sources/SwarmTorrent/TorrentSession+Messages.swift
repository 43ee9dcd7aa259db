import NIOCore
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// What a peer says: each message read, and what the session makes of it.
extension TorrentSession {
    /// What a connection does with each message: blocks are checked, written and read here,
    /// off the session, the rest is the session's. A piece completed by a block is checked and
    /// written, and a block asked for is read and sent, in a task of its own, tracked by `disk`
    /// so that reading goes on meanwhile but waits when the disk falls behind; a block served
    /// goes out through `write`, which waits while the socket is full, so no more is read from
    /// disk than the peer takes.
    nonisolated func process(
        _ message: PeerMessage, on link: PeerLink, disk: inout DiskWork, write: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws {
        switch message {
        case .piece(let piece, let begin, let block):
            if let limit = configuration.downloadLimit {
                let wait = limit.reserve(block.readableBytes)
                if wait > .zero { try await Task.sleep(for: wait) }
            }
            switch await blockArrived(from: link.id, piece: piece, begin: begin, block: block) {
            case .kept, .drop:
                break
            case .complete(let assembly):
                let storage = self.storage
                await disk.add(Task {
                    let outcome: Result<Bool, any Error>
                    do { outcome = .success(try await storage.commit(piece: piece, bytes: assembly.bytes)) } catch { outcome = .failure(error) }
                    await self.pieceCommitted(piece, assembly, outcome: outcome)
                }, bytes: assembly.bytes.readableBytes)
            case .refuse(let reason):
                throw PeerDrop(reason)
            }
        case .request(let block):
            switch await requestArrived(from: link.id, block) {
            case .serve:
                if let limit = configuration.uploadLimit {
                    let wait = limit.reserve(block.length)
                    if wait > .zero { try await Task.sleep(for: wait) }
                }
                let storage = self.storage
                await disk.add(Task {
                    guard let bytes = try? await storage.read(block) else { return }
                    var buffer = ByteBuffer()
                    PeerMessage.piece(piece: block.piece, begin: block.begin, block: bytes).write(to: &buffer)
                    guard (try? await write(buffer)) != nil else { return }
                    await self.sent(block, to: link.id)
                }, bytes: block.length)
            case .reject:
                link.send(.reject(block))
            case .ignore:
                break
            case .refuse(let reason):
                throw PeerDrop(reason)
            }
        default:
            try await handle(message, from: link.id)
        }
    }

    /// Every message but `piece` and `request`.
    func handle(_ message: PeerMessage, from id: Int) throws(PeerDrop) {
        guard var peer = peers[id] else { return }
        peer.lastHeard = .now
        defer { if peers[id] != nil { peers[id] = peer } }
        defer { fill(&peer) }
        if message.isFastExtension, !peer.fast { throw PeerDrop("sent \(message.name) without the fast extension") }
        switch message {
        case .keepAlive, .port, .suggest, .allowedFast, .cancel:
            // Requests are answered as they are read, so there is nothing to cancel.
            break
        case .bitfield(let bytes):
            let field: Bitfield
            do { field = try Bitfield(bytes: bytes, count: metainfo.pieceCount) } catch { throw PeerDrop("\(error)") }
            setHas(field, of: &peer)
        case .haveAll:
            setHas(.full(count: metainfo.pieceCount), of: &peer)
        case .haveNone:
            setHas(Bitfield(count: metainfo.pieceCount), of: &peer)
        case .have(let piece):
            guard piece < metainfo.pieceCount else { throw PeerDrop("have for piece \(piece), past the last (\(metainfo.pieceCount - 1))") }
            if peer.has[piece] {
                peer.repeatedHaves += 1
                if peer.repeatedHaves > metainfo.pieceCount + 64 { throw PeerDrop("a flood of have messages for pieces it had announced") }
                return
            }
            peer.has[piece] = true
            book.peerHas([piece])
            if book.wants(piece) { peer.wanted += 1 }
            updateInterest(&peer)
        case .choke:
            peer.peerChoking = true
            if !peer.fast {
                // Without BEP 6, a choke drops every request outstanding.
                peer.outstanding.removeAll()
                book.release(id)
            }
        case .unchoke:
            peer.peerChoking = false
        case .interested:
            peer.peerInterested = true
            // A free upload slot is given at once rather than at the next round of the choker.
            if peer.amChoking, peers.values.filter({ !$0.amChoking }).count < choker.slots {
                peer.amChoking = false
                peer.link.send(.unchoke)
            }
        case .notInterested:
            peer.peerInterested = false
        case .reject(let block):
            guard peer.outstanding.removeValue(forKey: block) != nil else { return }
            book.release(block, of: id)
        case .extended(0, let payload):
            guard let value = try? Bencode.decode(payload, requireSortedKeys: false) else { break }
            if let name = value["v"]?.text, !name.isEmpty { peer.clientName = name }
            if let id = value["m"]?["ut_metadata"]?.integer, (1...255).contains(id) { peer.metadataID = UInt8(id) }
        case .extended(MetadataFetch.metadataExtensionID, let payload):
            guard case .request(let piece)? = MetadataMessage(payload: payload), let theirs = peer.metadataID else { break }
            let info = metainfo.rawInfo
            let start = piece * MetadataMessage.pieceLength
            let reply: MetadataMessage =
                start < info.count
                ? .data(piece: piece, totalSize: info.count, bytes: Array(info[start..<min(info.count, start + MetadataMessage.pieceLength)]))
                : .reject(piece: piece)
            peer.link.send(.extended(id: theirs, payload: reply.encoded()))
        case .extended:
            break
        case .request, .piece:
            break
        }
    }

    /// Replaces what peer holds (a bitfield, `have_all` or `have_none`), counts and interest too.
    private func setHas(_ field: Bitfield, of peer: inout ConnectedPeer) {
        book.peerLeft(holding: peer.has.heldPieces)
        peer.has = field
        let pieces = field.heldPieces
        book.peerHas(pieces)
        peer.wanted = book.wantedCount(in: field)
        updateInterest(&peer)
    }

    /// Counts again what each peer has that we want, after the wanted pieces changed (a file's
    /// priority, a piece asked for): a peer holding only skipped pieces hears we are not
    /// interested, and frees the upload slot it gave us.
    func recountWanted() {
        for id in Array(peers.keys) {
            guard var peer = peers[id] else { continue }
            peer.wanted = book.wantedCount(in: peer.has)
            updateInterest(&peer)
            peers[id] = peer
        }
    }

    /// Tells the peer whether we want anything it has, when that changed.
    func updateInterest(_ peer: inout ConnectedPeer) {
        let interested = peer.wanted > 0
        guard interested != peer.amInterested else { return }
        peer.amInterested = interested
        peer.link.send(interested ? .interested : .notInterested)
        peer.lastSent = .now
    }
}
