import SwarmCore
import SwarmProtocol
import TorrentProtocol

extension TorrentSession {
    /// Once a second: drops idle and stalled peers, keeps connections alive, sizes request
    /// queues to each peer's rate, dials known peers while there is room, writes the resume
    /// data when it changed; every ten seconds, runs the choker.
    func upkeepLoop() async throws {
        var tick = 0
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            tick += 1
            checkPeers(now: .now)
            if tick % 10 == 1 { rechoke(now: .now) }
            dialKnownPeers(now: .now)
            if tick % 5 == 0 { await saveResume() }
            reportChanges()
        }
    }

    /// Tells the UI which piece counts and which peers changed since it was last told.
    func reportChanges() {
        if shownAvailability.count != metainfo.pieceCount { shownAvailability = [Int](repeating: -1, count: metainfo.pieceCount) }
        var changed: [ChunkIndex: Int] = [:]
        for (piece, count) in book.availability.enumerated() where shownAvailability[piece] != count {
            changed[ChunkIndex(piece + 1)] = count
            shownAvailability[piece] = count
        }
        if !changed.isEmpty { emit(.availability(changed)) }
        reportFiles()
        shownStatus = shownStatus.filter { peers[$0.key] != nil }
        for (id, peer) in peers {
            let status = PeerStatus(
                address: peer.address, client: peer.clientName, flags: flags(of: peer),
                progress: Double(peer.has.heldCount) / Double(max(1, metainfo.pieceCount)))
            guard shownStatus[id] != status else { continue }
            shownStatus[id] = status
            emit(.peerStatus(status))
        }
    }

    /// Tells the UI of the files when their progress or priority changed.
    func reportFiles() {
        let files = fileProgress()
        guard files != shownFiles else { return }
        shownFiles = files
        emit(.files(files))
    }

    /// Each file's size, verified share and priority.
    func fileProgress() -> [FileProgress] {
        var done = [Int64](repeating: 0, count: metainfo.files.count)
        for piece in book.held.heldPieces {
            for segment in storage.segments(piece: piece, begin: 0, length: metainfo.length(ofPiece: piece)) { done[segment.file] += Int64(segment.count) }
        }
        return metainfo.files.enumerated().map { index, file in
            FileProgress(
                path: (metainfo.isMultiFile ? [metainfo.name] + file.path : file.path).joined(separator: "/"), bytes: file.length,
                done: file.length == 0 ? (book.held.isFull ? 1 : 0) : Double(done[index]) / Double(file.length), priority: filePriorities[index])
        }
    }

    /// libtorrent's peer flags (see ``PeerStatus/flags``).
    func flags(of peer: ConnectedPeer) -> String {
        var flags = ""
        if peer.amInterested { flags += peer.peerChoking ? "d" : "D" } else if !peer.peerChoking { flags += "K" }
        if peer.peerInterested { flags += peer.amChoking ? "u" : "U" } else if !peer.amChoking { flags += "?" }
        if choker.optimistic == peer.link.id { flags += "O" }
        if !peer.link.isOutgoing { flags += "I" }
        return flags
    }

    /// Drops peers that went quiet or stopped sending what they owe; sends keep-alives; sizes
    /// each queue to the peer's rate of the last second.
    func checkPeers(now: ContinuousClock.Instant) {
        for id in Array(peers.keys) {
            guard var peer = peers[id] else { continue }
            if now - peer.lastHeard > configuration.idleTimeout {
                drop(id, reason: "idle: nothing heard for \(configuration.idleTimeout.secondsText)")
                continue
            }
            if !peer.outstanding.isEmpty, now - peer.lastBlock > configuration.stallTimeout {
                drop(id, reason: "stalled: \(peer.outstanding.count) blocks asked, none sent for \(configuration.stallTimeout.secondsText)")
                continue
            }
            if now - peer.lastSent > .seconds(90) {
                peer.link.send(.keepAlive)
                peer.lastSent = now
            }
            // Both seeds: nothing to trade.
            if book.isComplete, peer.has.isFull {
                drop(id, reason: "both hold everything")
                continue
            }
            peer.queueDepth = ConnectedPeer.queueDepth(receivedPerSecond: peer.receivedSinceTick)
            peer.receivedSinceTick = 0
            peers[id] = peer
            fillRequests(for: id)
        }
    }

    /// Unchokes the peers the choker picks and chokes the rest.
    func rechoke(now: ContinuousClock.Instant) {
        let seeding = book.isComplete
        let candidates = peers.values.map { peer in
            Choker.Candidate(id: peer.link.id, interested: peer.peerInterested, rate: Double(seeding ? peer.sentSinceChoke : peer.receivedSinceChoke))
        }
        let chosen = choker.unchoked(candidates, now: now)
        for id in Array(peers.keys) {
            guard var peer = peers[id] else { continue }
            let choke = !chosen.contains(id)
            if choke != peer.amChoking {
                peer.amChoking = choke
                peer.link.send(choke ? .choke : .unchoke)
                peer.lastSent = now
            }
            peer.receivedSinceChoke = 0
            peer.sentSinceChoke = 0
            peers[id] = peer
        }
    }

    /// Dials peers the trackers named, while there is room, none more than once a minute.
    func dialKnownPeers(now: ContinuousClock.Instant) {
        var room = configuration.maxPeers - peers.count - dialling.count
        guard room > 0, !(book.isComplete && configuration.exitWhenComplete) else { return }
        let connected = Set(peers.values.filter(\.link.isOutgoing).map { "\($0.address)" })
        for (endpoint, lastTried) in knownPeers where room > 0 {
            guard !dialling.contains(endpoint), !connected.contains(endpoint.description) else { continue }
            if let lastTried, now - lastTried < .seconds(60) { continue }
            knownPeers[endpoint] = now
            dialling.insert(endpoint)
            dials.yield(endpoint)
            room -= 1
        }
    }

    /// Adds peers a tracker named, leaving out ourselves.
    func learn(_ endpoints: [PeerEndpoint]) {
        for endpoint in endpoints where !isSelf(endpoint) && knownPeers[endpoint] == nil {
            knownPeers[endpoint] = .some(nil)
        }
        dialKnownPeers(now: .now)
    }

    /// Our own listen port on a loopback or unspecified address: trackers list the asker too.
    private func isSelf(_ endpoint: PeerEndpoint) -> Bool {
        guard endpoint.port == listenPort else { return false }
        return PeerAddress.isLoopback(endpoint.host) || PeerAddress.isEveryAddress(endpoint.host) || endpoint.host == configuration.listenHost
    }
}
