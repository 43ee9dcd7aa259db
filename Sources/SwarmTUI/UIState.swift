import SwarmCore
import SwarmProtocol

/// Everything the screen shows, as a pure value: events and keys go in, views read it out.
///
/// ``reduce(_:at:)`` folds engine events in; ``apply(_:)`` folds in what the user did and
/// returns the command for the engine, if any. Time is passed in, so tests are exact.
public struct UIState: Sendable, Equatable {
    /// What one chunk is doing, as the map draws it.
    public enum ChunkState: Sendable, Equatable {
        /// Here, checked.
        case held
        /// Being fetched now.
        case downloading
        /// Other peers hold it (how many, from the tracker's last answer).
        case available(Int)
        /// No holder known yet.
        case nowhere
        /// The last attempt failed.
        case failed
    }

    /// What the keyboard is doing.
    public enum Mode: Sendable, Equatable {
        /// Keys are commands.
        case normal
        /// Typing the index of a chunk to fetch (after `r`).
        case enteringIndex(String)
        /// The help overlay is open.
        case help
    }

    /// The list that PgUp/PgDn scroll (and, for files, that the arrows move in).
    public enum Focus: Sendable, Equatable {
        case peers, files, log
    }

    /// How a peer is doing.
    public enum PeerState: String, Sendable, Equatable {
        case active, idle, unreachable
        case badData = "bad data"
        case banned
        /// Its connection was closed.
        case gone
    }

    /// One row of the peers pane.
    public struct PeerRow: Sendable, Equatable {
        /// The peer's address (incoming peers by host only: their ports are ephemeral).
        public var address: String
        /// Chunks fetched from it.
        public var received = 0
        /// Chunks served to it.
        public var served = 0
        /// Bytes both ways, for the rate.
        public var rate = RateMeter()
        /// Bytes from it and to it, apart (BitTorrent peers trade both ways at once).
        public var down = RateMeter()
        public var up = RateMeter()
        /// A BitTorrent peer's client, flags and progress (`nil` for a chunk holder).
        public var status: PeerStatus?
        /// Transfers running with it.
        public var transfers = 0
        /// How it is doing.
        public var state: PeerState = .idle
    }

    /// One line of the log pane.
    public struct LogEntry: Sendable, Equatable {
        /// Seconds since start.
        public var time: Double
        /// The line, whole and compact.
        public var line: LogLine
        /// Whether it reports a failure.
        public var isProblem: Bool
        /// Whether it is a location look-up, shown only while ``UIState/showsDetail`` is on.
        public var isDetail = false

        /// The whole text, as `logger.log` has it.
        public var text: String { line.text }
    }

    /// Lines kept for scrolling back.
    public static let logCapacity = 1000

    public var name = ""
    public var folder = ""
    public var trackerAddress = ""
    public var trackerState: TrackerState = .connecting
    /// When the tracker will be tried again, if it is down.
    public var trackerRetryAt: Double?
    public var serving = ""
    /// The torrent's name and size, when the engine is a torrent's.
    public private(set) var torrentName: String?
    public private(set) var torrentBytes: Int64 = 0
    /// Whether a magnet link's metadata is still being fetched (nothing to map yet).
    public private(set) var fetchingMetadata = false
    /// Seeds and leechers as the tracker last reported them.
    public private(set) var seeds: Int?
    public private(set) var leechers: Int?
    public private(set) var chunks: [ChunkState] = []
    public private(set) var heldCount = 0
    /// Holders last reported per chunk, for the cursor line.
    public private(set) var holders: [Int: [String]] = [:]
    public private(set) var bytesFetched = 0
    public private(set) var chunksFetched = 0
    public private(set) var bytesServed = 0
    /// Every byte received, kept or not (a torrent's "downloaded").
    public private(set) var bytesReceived = 0
    public private(set) var downRate = RateMeter()
    public private(set) var upRate = RateMeter()
    /// Download and upload rates over the last minute, for the rate graph.
    public private(set) var downHistory = RateHistory()
    public private(set) var upHistory = RateHistory()
    public private(set) var paused = false
    public private(set) var complete = false
    public private(set) var peers: [PeerRow] = []
    public private(set) var log: [LogEntry] = []
    /// Whether the log pane shows location look-ups (`chunk 54: 1 holder`) too: they are
    /// frequent and rarely acted on, so they are off until the user asks (`d`).
    public private(set) var showsDetail = false
    /// Lines scrolled back from the newest, counting only the lines shown.
    public var logScroll = 0
    public var peerScroll = 0
    /// The chunk under the map cursor, 1-based.
    public var cursor = 1
    public var mode: Mode = .normal
    public var focus: Focus = .log
    /// A torrent's files, and the one under the files pane's cursor (0-based).
    public private(set) var files: [FileProgress] = []
    public var fileCursor = 0
    /// Which list shares the screen with the log: the peers, or (after Tab to them) the files.
    public private(set) var listPane: Focus = .peers
    /// Whether pieces are fetched in order.
    public private(set) var sequential = false
    /// A one-line answer to the last command, shown in the status line.
    public var status: (text: String, isError: Bool)? {
        get { statusText.map { ($0, statusIsError) } }
        set {
            statusText = newValue?.text
            statusIsError = newValue?.isError ?? false
        }
    }
    private var statusText: String?
    private var statusIsError = false
    /// Seconds since the UI started; views compute rates and countdowns from it.
    public private(set) var now = 0.0

    public init() {}

    /// The number of chunks in the file.
    public var total: Int { chunks.count }

    /// Held / total, 0…1.
    public var progress: Double { total == 0 ? 0 : Double(heldCount) / Double(total) }

    /// Bytes sent over bytes received, once anything was received.
    public var ratio: Double? { bytesReceived > 0 ? Double(bytesServed) / Double(bytesReceived) : nil }

    /// Seconds until done at the current rate, or `nil` when unknown.
    public var eta: Double? {
        let rate = downRate.rate(at: now)
        guard !complete, chunksFetched > 0, rate > 0 else { return nil }
        let averageChunk = Double(bytesFetched) / Double(chunksFetched)
        return averageChunk * Double(total - heldCount) / rate
    }

    /// Moves the clock.
    public mutating func tick(at time: Double) { now = max(now, time) }

    // MARK: Events

    /// Folds one engine event in, at time `time`.
    public mutating func reduce(_ event: SwarmEvent, at time: Double) {
        tick(at: time)
        switch event {
        case .started(let name, let folder, let total, let held, let serving):
            self.name = name
            self.folder = folder
            self.serving = serving.description
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
        case .registered:
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
        case .problem, .checked:
            break
        }
        if let line = LogLine(event) { append(LogEntry(time: now, line: line, isProblem: Self.isProblem(event), isDetail: Self.isDetail(event))) }
    }

    /// Adds a line to the log pane (also used for the UI's own messages).
    public mutating func appendLog(_ text: String, isProblem: Bool = false) {
        append(LogEntry(time: now, line: LogLine(text), isProblem: isProblem))
    }

    private mutating func append(_ entry: LogEntry) {
        log.append(entry)
        if log.count > Self.logCapacity { log.removeFirst(log.count - Self.logCapacity) }
        if logScroll > 0, isShown(entry) { logScroll = min(logScroll + 1, shownLog.count - 1) }
    }

    /// The log lines the pane shows, oldest first: location look-ups only with detail on.
    public var shownLog: [LogEntry] { showsDetail ? log : log.filter(isShown) }

    private func isShown(_ entry: LogEntry) -> Bool { showsDetail || !entry.isDetail }

    /// The state of chunk `index` (1-based).
    public func chunkState(_ index: ChunkIndex) -> ChunkState? {
        chunks.indices.contains(index.value - 1) ? chunks[index.value - 1] : nil
    }

    private mutating func update(_ index: ChunkIndex, _ change: (inout ChunkState) -> Void) {
        guard chunks.indices.contains(index.value - 1) else { return }
        let wasHeld = chunks[index.value - 1] == .held
        change(&chunks[index.value - 1])
        if wasHeld && chunks[index.value - 1] != .held { heldCount -= 1 }
    }

    private mutating func withPeer(_ address: String, _ change: (inout PeerRow) -> Void) {
        if let position = peers.firstIndex(where: { $0.address == address }) {
            change(&peers[position])
        } else {
            var row = PeerRow(address: address)
            change(&row)
            peers.append(row)
        }
    }

    /// Incoming connections come from ephemeral ports: one row per host.
    private static func incoming(_ peer: String) -> String {
        guard let address = PeerAddress(parsing: peer) else { return "\(peer) (incoming)" }
        return "\(address.host) (incoming)"
    }

    private static func isDetail(_ event: SwarmEvent) -> Bool {
        switch event {
        case .located, .nowhere: return true
        default: return false
        }
    }

    private static func isProblem(_ event: SwarmEvent) -> Bool {
        switch event {
        case .failed, .peerBanned, .problem, .peerDropped: return true
        default: return false
        }
    }

    // MARK: User actions

    /// Folds in what the user did; returns what the engine must do, if anything.
    ///
    /// - Parameter mapColumns: map cells per row, so up/down move by a whole row.
    /// - Parameter chunksPerCell: chunks each map cell stands for.
    public mutating func apply(_ action: UIAction, mapColumns: Int = 1, chunksPerCell: Int = 1) -> EngineCommand? {
        switch action {
        case .quit:
            return .quit
        case .togglePause:
            status = (paused ? "resuming" : "pausing: serving goes on", false)
            return paused ? .resume : .pause
        case .startRequest:
            mode = .enteringIndex("")
            status = nil
        case .typeDigit(let digit):
            if case .enteringIndex(let text) = mode, text.count < 10 { mode = .enteringIndex(text + String(digit)) }
        case .eraseDigit:
            if case .enteringIndex(let text) = mode { mode = .enteringIndex(String(text.dropLast())) }
        case .submitRequest:
            guard case .enteringIndex(let text) = mode else { return nil }
            mode = .normal
            return requestChunk(Int(text), typed: text)
        case .cancel:
            mode = .normal
            status = nil
        case .toggleHelp:
            mode = mode == .help ? .normal : .help
        case .moveCursor(_, let dy) where focus == .files:
            fileCursor = min(max(0, fileCursor + dy), max(0, files.count - 1))
        case .moveCursor(let dx, let dy):
            let step = max(1, chunksPerCell)
            let target = cursor + dx * step + dy * max(1, mapColumns) * step
            cursor = min(max(target, 1), max(total, 1))
        case .fetchCursor:
            return requestChunk(cursor, typed: String(cursor))
        case .scroll(let lines):
            switch focus {
            case .log: logScroll = min(max(0, logScroll + lines), max(0, shownLog.count - 1))
            case .peers: peerScroll = min(max(0, peerScroll + lines), max(0, peers.count - 1))
            case .files: fileCursor = min(max(0, fileCursor - lines), max(0, files.count - 1))
            }
        case .switchFocus:
            // peers → files (a torrent's) → log → peers
            switch focus {
            case .peers: focus = files.isEmpty ? .log : .files
            case .files: focus = .log
            case .log: focus = .peers
            }
            if focus != .log { listPane = focus }
        case .toggleSkip, .raisePriority:
            guard focus == .files, files.indices.contains(fileCursor) else {
                status = (files.isEmpty ? "no files: a chunk folder is one file" : "Tab to the files pane first", true)
                return nil
            }
            let current = files[fileCursor].priority
            let next: FilePriority = action == .toggleSkip ? (current == .skip ? .normal : .skip) : (current == .high ? .normal : .high)
            files[fileCursor].priority = next
            status = ("\(files[fileCursor].path): \(next == .skip ? "skipped" : next == .high ? "high priority" : "normal priority")", false)
            return .setPriority(file: fileCursor, next)
        case .toggleSequential:
            sequential.toggle()
            status = (sequential ? "fetching in order (for playing while it downloads)" : "fetching the rarest first", false)
            return .sequential(sequential)
        case .toggleDetail:
            showsDetail.toggle()
            logScroll = 0
            status = (showsDetail ? "detail on: the log shows location look-ups" : "detail off: location look-ups hidden", false)
        }
        return nil
    }

    private mutating func requestChunk(_ value: Int?, typed: String) -> EngineCommand? {
        guard let value, (1...max(total, 1)).contains(value), total > 0 else {
            status = (typed.isEmpty ? "no chunk number typed" : "no chunk \(typed): chunks are 1–\(total)", true)
            return nil
        }
        if chunks[value - 1] == .held {
            status = ("chunk \(value) is already here", true)
            return nil
        }
        status = ("fetching chunk \(value)\(paused ? " (while paused)" : "")", false)
        return .request(value)
    }
}

/// What the user asked for, before it is applied to the state.
public enum UIAction: Sendable, Equatable {
    case quit
    case togglePause
    case startRequest
    case typeDigit(Character)
    case eraseDigit
    case submitRequest
    case cancel
    case toggleHelp
    case moveCursor(dx: Int, dy: Int)
    case fetchCursor
    case scroll(Int)
    case switchFocus
    /// Show or hide location look-ups in the log.
    case toggleDetail
    /// Skip or fetch the file under the files pane's cursor.
    case toggleSkip
    /// Raise the file under the cursor to high priority, or back to normal.
    case raisePriority
    /// Fetch in order, or rarest first.
    case toggleSequential
}

/// What the engine must do because of a key.
public enum EngineCommand: Sendable, Equatable {
    case pause, resume, quit
    case request(Int)
    case setPriority(file: Int, FilePriority)
    case sequential(Bool)
}
