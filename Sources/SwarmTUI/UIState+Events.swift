import SwarmCore
import SwarmProtocol

/// Engine events folded into the state: the map, the peers and files, rates, the log.
extension UIState {
    /// Folds one engine event in, at time `time`.
    public mutating func reduce(_ event: SwarmEvent, at time: Double) {
        tick(at: time)
        switch event {
        case .started(let name, let folder, let total, let held, _):
            self.name = name
            self.folder = folder
            chunks = (1...max(total, 1)).map { held.contains(ChunkIndex($0)) ? .held : .nowhere }
            heldCount = held.count
            cursor = min(max(cursor, 1), total)
            complete = heldCount == total
        case .tracker(let state):
            trackerState = state
            if case .retrying(let delay, _) = state {
                trackerRetryAt = time + Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            } else {
                trackerRetryAt = nil
            }
        case .advertising(let address, _):
            registeredAs = address.description
        case .registered, .trackerLink:
            break
        case .located(let index, let list), .surveyed(let index, let list):
            holders[index.value] = list.map(\.description)
            update(index) { state in
                if case .downloading = state { return }
                state = list.isEmpty ? .nowhere : .available(list.count)
            }
        case .nowhere(let index):
            holders[index.value] = []
            update(index) { if $0 != .downloading { $0 = .nowhere } }
        case .requested(let index, let holder):
            update(index) { $0 = .downloading }
            withPeer(holder.description) { $0.transfers += 1; $0.state = .active }
        case .receiving(_, let holder, let bytes):
            bytesReceived += bytes
            downRate.add(bytes, at: time)
            downHistory.add(bytes, at: time)
            withPeer(holder.description) { peer in
                peer.rate.add(bytes, at: time)
                peer.down.add(bytes, at: time)
            }
        case .fetched(let index, let holder, let bytes, _):
            if chunkState(index) != .held { heldCount += 1 }
            update(index) { $0 = .held }
            bytesFetched += bytes
            chunksFetched += 1
            withPeer(holder.description) { peer in
                peer.received += 1
                peer.transfers = max(0, peer.transfers - 1)
                if peer.state != .banned { peer.state = peer.transfers > 0 ? .active : .idle }
            }
        case .abandoned(_, let holder):
            withPeer(holder.description) { peer in
                peer.transfers = max(0, peer.transfers - 1)
                if peer.state == .active, peer.transfers == 0 { peer.state = .idle }
            }
        case .failed(let index, let holder, let reason):
            update(index) { if $0 != .held { $0 = .failed } }
            if let holder {
                withPeer(holder.description) { peer in
                    peer.transfers = max(0, peer.transfers - 1)
                    guard peer.state != .banned else { return }
                    if reason.hasPrefix("unreachable") {
                        peer.state = .unreachable
                    } else if reason.contains("SHA-1") {
                        peer.state = .badData
                    } else {
                        peer.state = peer.transfers > 0 ? .active : .idle
                    }
                }
            }
        case .peerBanned(let holder, _):
            withPeer(holder.description) { $0.state = .banned }
        case .served(let report):
            if case .served(let bytes) = report.outcome {
                bytesServed += bytes
                upRate.add(bytes, at: time)
                upHistory.add(bytes, at: time)
                withPeer(Self.incoming(report.peer)) { peer in
                    peer.served += 1
                    peer.rate.add(bytes, at: time)
                }
            }
        case .uploaded(let peer, let bytes):
            bytesServed += bytes
            upRate.add(bytes, at: time)
            upHistory.add(bytes, at: time)
            withPeer(peer.description) { peer in
                peer.rate.add(bytes, at: time)
                peer.up.add(bytes, at: time)
            }
        case .fetchingMetadata(let name):
            fetchingMetadata = true
            torrentName = name ?? "magnet link"
        case .torrent(let name, let bytes):
            fetchingMetadata = false
            torrentName = name
            torrentBytes = bytes
        case .swarmSize(let seeds, let leechers):
            self.seeds = seeds
            self.leechers = leechers
        case .availability(let counts):
            for (index, count) in counts {
                update(index) { state in
                    if state == .held || state == .downloading { return }
                    if state == .failed, count > 0 { return }
                    state = count > 0 ? .available(count) : .nowhere
                }
            }
        case .files(let list):
            files = list
            fileCursor = min(fileCursor, max(0, list.count - 1))
        case .peerStatus(let status):
            withPeer(status.address.description) { peer in
                peer.status = status
                if peer.state == .gone { peer.state = .idle }
            }
        case .peerDropped(let peer, _):
            withPeer(peer.description) { peer in
                peer.transfers = 0
                if peer.state != .banned { peer.state = .gone }
            }
        case .paused(let isPaused):
            paused = isPaused
        case .complete:
            complete = true
        case .problem, .checked, .assembled:
            break
        }
        if let line = LogLine(event) { append(LogEntry(time: now, line: line, isProblem: Self.isProblem(event), isDetail: Self.isDetail(event))) }
    }

    /// Adds a line to the log pane (also used for the UI's own messages).
    public mutating func appendLog(_ text: String, isProblem: Bool = false) {
        append(LogEntry(time: now, line: LogLine(text), isProblem: isProblem))
    }

    mutating func append(_ entry: LogEntry) {
        log.append(entry)
        if log.count > Self.logCapacity { log.removeFirst(log.count - Self.logCapacity) }
        if logScroll > 0, isShown(entry) { logScroll = min(logScroll + 1, shownLog.count - 1) }
    }

    /// The log lines the pane shows, oldest first: location look-ups only with detail on.
    public var shownLog: [LogEntry] { showsDetail ? log : log.filter(isShown) }

    func isShown(_ entry: LogEntry) -> Bool { showsDetail || !entry.isDetail }

    mutating func update(_ index: ChunkIndex, _ change: (inout ChunkState) -> Void) {
        guard chunks.indices.contains(index.value - 1) else { return }
        let wasHeld = chunks[index.value - 1] == .held
        change(&chunks[index.value - 1])
        if wasHeld && chunks[index.value - 1] != .held { heldCount -= 1 }
    }

    mutating func withPeer(_ address: String, _ change: (inout PeerRow) -> Void) {
        if let position = peers.firstIndex(where: { $0.address == address }) {
            change(&peers[position])
        } else {
            var row = PeerRow(address: address)
            change(&row)
            peers.append(row)
        }
    }

    /// Incoming connections come from ephemeral ports: one row per host.
    static func incoming(_ peer: String) -> String {
        guard let address = PeerAddress(parsing: peer) else { return "\(peer) (incoming)" }
        return "\(address.host) (incoming)"
    }

    static func isDetail(_ event: SwarmEvent) -> Bool {
        switch event {
        case .located, .nowhere: return true
        default: return false
        }
    }

    static func isProblem(_ event: SwarmEvent) -> Bool {
        switch event {
        case .failed, .peerBanned, .problem, .peerDropped: return true
        default: return false
        }
    }
}
