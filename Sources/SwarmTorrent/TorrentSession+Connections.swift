import NIOCore
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// Peer connections: taken in and dialled out, handshaken, admitted, closed.
extension TorrentSession {
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
                    // Pieces go to disk, and blocks come from it, while the next messages are
                    // read; however the connection ends, the pieces it completed are written.
                    var disk = DiskWork()
                    do {
                        while let frame = try await frames.next() {
                            guard case .message(let message) = frame else { throw PeerDrop("a second handshake") }
                            try await self.process(message, on: link, disk: &disk) { try await outbound.write($0) }
                        }
                    } catch {
                        await disk.finish()
                        throw error
                    }
                    await disk.finish()
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
}
