import Crypto
import NIOCore
import SwarmCore
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
    /// Pieces it has that we lack: we are interested while this is above 0.
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
    var queueDepth = 32
    var lastHeard = ContinuousClock.now
    var lastSent = ContinuousClock.now
    var lastBlock = ContinuousClock.now
    /// `have` messages for pieces it had already announced.
    var repeatedHaves = 0
    /// Bytes each way since the choker last looked.
    var receivedSinceChoke = 0
    var sentSinceChoke = 0

    var address: PeerAddress { link.address }
}

/// What a connection does with a `piece` it read.
enum BlockVerdict {
    case store
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

extension TorrentSession {
    // MARK: Connections

    /// Takes incoming connections until cancelled, each in a task of its own.
    func acceptConnections(_ server: NIOAsyncChannel<PeerSockets.Channel, Never>, maximumLength: Int) async throws {
        try await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await channel in inbound {
                    let remote = channel.channel.remoteAddress
                    let address = PeerAddress(host: remote?.ipAddress ?? "?", port: remote?.port ?? 0) ?? PeerAddress(host: "0.0.0.0", port: 1)!
                    group.addTask { await self.runConnection(channel, address: address, outgoing: false) }
                }
            }
        }
    }

    /// Dials each endpoint asked for, each connection in a task of its own.
    func dialPeers(maximumLength: Int) async {
        await withDiscardingTaskGroup { group in
            for await endpoint in dialQueue {
                group.addTask {
                    guard let address = PeerAddress(host: endpoint.host, port: endpoint.port) else { return }
                    do {
                        let channel = try await PeerSockets.connect(to: address, maximumLength: maximumLength)
                        await self.dialled(endpoint)
                        await self.runConnection(channel, address: address, outgoing: true)
                    } catch {
                        await self.dialled(endpoint)
                        self.logger.info("cannot connect to \(address): \(ConnectionErrorText.describe(error))")
                    }
                }
            }
        }
    }

    func dialled(_ endpoint: PeerEndpoint) { dialling.remove(endpoint) }

    /// Runs one connection: handshakes, then reads messages until it ends; the peer's queued
    /// messages are written by a task of their own.
    nonisolated func runConnection(_ channel: PeerSockets.Channel, address: PeerAddress, outgoing: Bool) async {
        var reason = "closed by the peer"
        var attachedID: Int?
        do {
            try await channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                let ours = Handshake(infoHash: metainfo.infoHash, peerID: configuration.peerID)
                var handshake = ByteBuffer()
                ours.write(to: &handshake)
                if outgoing { try await outbound.write(handshake) }
                let first: PeerWireFrame?
                do {
                    first = try await frames.next()
                } catch let error as PeerWireError {
                    throw error
                } catch {
                    throw PeerDrop("closed before its handshake")
                }
                guard case .handshake(let theirs)? = first else { throw PeerDrop("closed before its handshake") }
                guard theirs.infoHash == metainfo.infoHash else { throw PeerWireError.wrongInfoHash(theirs.infoHash) }
                if !outgoing { try await outbound.write(handshake) }
                let (queue, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
                let link = await self.attach(address: address, handshake: theirs, outgoing: outgoing, queue: continuation)
                guard let link else {
                    reason = "refused"
                    return
                }
                attachedID = link.id
                let socket = channel.channel
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // Once the session closes the link (or the reading below ends), what is
                        // queued is written and the socket closed, which ends the reading too.
                        for await buffer in queue { try await outbound.write(buffer) }
                        socket.close(promise: nil)
                    }
                    defer {
                        continuation.finish()
                        group.cancelAll()
                    }
                    // Blocks go to and from disk while the next messages are read, up to a window
                    // per peer; however the connection ends, the blocks it delivered are written.
                    var inFlight: [Task<Void, Never>] = []
                    do {
                        while let frame = try await frames.next() {
                            guard case .message(let message) = frame else { throw PeerDrop("a second handshake") }
                            try await self.process(message, on: link, inFlight: &inFlight) { try await outbound.write($0) }
                        }
                    } catch {
                        for work in inFlight { await work.value }
                        throw error
                    }
                    for work in inFlight { await work.value }
                }
            }
        } catch let drop as PeerDrop {
            reason = drop.description
        } catch let error as PeerWireError {
            reason = error.description
        } catch is CancellationError {
            reason = "stopping"
        } catch {
            reason = ConnectionErrorText.describe(error)
        }
        if let attachedID {
            await detach(attachedID, reason: reason)
        } else if reason != "closed before its handshake", reason != "refused", reason != "stopping" {
            await refusedBeforeAttaching(address, reason: reason)
        }
    }

    /// A connection refused at its handshake (another torrent, not BitTorrent at all).
    func refusedBeforeAttaching(_ address: PeerAddress, reason: String) {
        logger.warning("closed \(address): \(reason)")
        emit(.peerDropped(address, reason: reason))
    }

    /// Admits a peer whose handshake named our torrent; `nil` (refused) for ourselves, a banned
    /// peer, a second connection from the same peer, or one over the limit.
    func attach(address: PeerAddress, handshake: Handshake, outgoing: Bool, queue: AsyncStream<ByteBuffer>.Continuation) -> PeerLink? {
        guard handshake.peerID != configuration.peerID else { return nil }
        guard !bannedIDs.contains(handshake.peerID) else { return nil }
        guard !peers.values.contains(where: { $0.peerID == handshake.peerID }) else { return nil }
        guard peers.count < configuration.maxPeers else { return nil }
        let link = PeerLink(id: nextLinkID, address: address, isOutgoing: outgoing, queue: queue)
        nextLinkID += 1
        let fast = handshake.supportsFastExtension
        var peer = ConnectedPeer(link: link, peerID: handshake.peerID, fast: fast, clientName: ClientName.from(peerID: handshake.peerID), has: Bitfield(count: metainfo.pieceCount))
        // Say what we have: nothing or everything in one message where both speak BEP 6.
        var opening: [PeerMessage] = []
        if handshake.supportsExtensionProtocol {
            opening.append(.extended(id: 0, payload: Self.extensionHandshake(port: listenPort, metadataSize: metainfo.rawInfo.count)))
        }
        if fast, book.held.heldCount == 0 {
            opening.append(.haveNone)
        } else if fast, book.held.isFull {
            opening.append(.haveAll)
        } else if book.held.heldCount > 0 {
            opening.append(.bitfield(book.held.bytes))
        }
        link.send(opening)
        peer.lastSent = .now
        peers[link.id] = peer
        logger.info("connected to \(address) (\(peer.clientName), \(outgoing ? "outgoing" : "incoming"))")
        return link
    }

    /// BEP 10's handshake: our name, our listen port, the request queue we accept, and the
    /// metadata we serve (BEP 9) to peers that came by a magnet link.
    static func extensionHandshake(port: Int, metadataSize: Int) -> [UInt8] {
        Bencode.sortedDictionary([
            Bencode.Entry("m", .sortedDictionary([Bencode.Entry("ut_metadata", .integer(Int64(MetadataFetch.metadataExtensionID)))])),
            Bencode.Entry("metadata_size", .integer(Int64(metadataSize))),
            Bencode.Entry("p", .integer(Int64(port))),
            Bencode.Entry("reqq", .integer(2000)),
            Bencode.Entry("v", .text("Swarm 0.1.0")),
        ]).encoded()
    }

    /// A connection ended: its requests go back to the pool and its pieces leave the counts.
    func detach(_ id: Int, reason: String) {
        guard let peer = peers.removeValue(forKey: id) else { return }
        book.release(id)
        book.peerLeft(holding: peer.has.heldPieces)
        // A connection we closed was reported with its reason when we closed it.
        let ours = closing.removeValue(forKey: id)
        logger.info("closed \(peer.address): \(ours ?? reason)")
        if ours == nil, reason != "closed by the peer", reason != "stopping" { emit(.peerDropped(peer.address, reason: reason)) }
        for other in peers.keys { fillRequests(for: other) }
    }

    /// Closes peer `id`'s connection for `reason` (after what is queued).
    func drop(_ id: Int, reason: String) {
        guard let peer = peers[id], closing[id] == nil else { return }
        closing[id] = reason
        logger.warning("closing \(peer.address): \(reason)")
        emit(.peerDropped(peer.address, reason: reason))
        peer.link.close()
    }

    // MARK: Messages

    /// How many of one peer's blocks may be on their way to or from disk at once (1 MiB).
    static let blockWindow = 64

    /// What a connection does with each message: blocks are written and read here, off the
    /// session, the rest is the session's. A block received goes to disk, and a block asked for
    /// is read and sent, in a task of its own, at most ``blockWindow`` of them at once
    /// (`inFlight`), so reading goes on meanwhile; a block served goes out through `write`,
    /// which waits while the socket is full, so no more is read from disk than the peer takes.
    nonisolated func process(
        _ message: PeerMessage, on link: PeerLink, inFlight: inout [Task<Void, Never>], write: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws {
        switch message {
        case .piece(let piece, let begin, let block):
            if let limit = configuration.downloadLimit {
                let wait = limit.reserve(block.readableBytes)
                if wait > .zero { try await Task.sleep(for: wait) }
            }
            switch await blockArrived(from: link.id, piece: piece, begin: begin, length: block.readableBytes) {
            case .store:
                let storage = self.storage
                inFlight.append(Task {
                    do {
                        try await storage.write(block, piece: piece, begin: begin)
                        await self.blockStored(piece: piece, failure: nil)
                    } catch {
                        await self.blockStored(piece: piece, failure: "\(error)")
                    }
                })
                if inFlight.count >= Self.blockWindow { await inFlight.removeFirst().value }
            case .drop:
                break
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
                inFlight.append(Task {
                    guard let bytes = try? await storage.read(block) else { return }
                    var buffer = ByteBuffer()
                    PeerMessage.piece(piece: block.piece, begin: block.begin, block: bytes).write(to: &buffer)
                    guard (try? await write(buffer)) != nil else { return }
                    await self.sent(block, to: link.id)
                })
                if inFlight.count >= Self.blockWindow { await inFlight.removeFirst().value }
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
            if !book.held[piece] { peer.wanted += 1 }
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
        peer.wanted = pieces.filter { !book.held[$0] }.count
        updateInterest(&peer)
    }

    /// Tells the peer whether we want anything it has, when that changed.
    func updateInterest(_ peer: inout ConnectedPeer) {
        let interested = peer.wanted > 0
        guard interested != peer.amInterested else { return }
        peer.amInterested = interested
        peer.link.send(interested ? .interested : .notInterested)
        peer.lastSent = .now
    }

    // MARK: Blocks

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
