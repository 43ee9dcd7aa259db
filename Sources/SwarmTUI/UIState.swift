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
    /// The address our chunks are registered under, once a tracker link has said (classic).
    public var registeredAs: String?
    /// The torrent's name and size, when the engine is a torrent's.
    public internal(set) var torrentName: String?
    public internal(set) var torrentBytes: Int64 = 0
    /// Whether a magnet link's metadata is still being fetched (nothing to map yet).
    public internal(set) var fetchingMetadata = false
    /// Seeds and leechers as the tracker last reported them.
    public internal(set) var seeds: Int?
    public internal(set) var leechers: Int?
    public internal(set) var chunks: [ChunkState] = []
    public internal(set) var heldCount = 0
    /// Holders last reported per chunk, for the cursor line.
    public internal(set) var holders: [Int: [String]] = [:]
    public internal(set) var bytesFetched = 0
    public internal(set) var chunksFetched = 0
    public internal(set) var bytesServed = 0
    /// Every byte received, kept or not (a torrent's "downloaded").
    public internal(set) var bytesReceived = 0
    public internal(set) var downRate = RateMeter()
    public internal(set) var upRate = RateMeter()
    /// Download and upload rates over the last minute, for the rate graph.
    public internal(set) var downHistory = RateHistory()
    public internal(set) var upHistory = RateHistory()
    public internal(set) var paused = false
    public internal(set) var complete = false
    public internal(set) var peers: [PeerRow] = []
    public internal(set) var log: [LogEntry] = []
    /// Whether the log pane shows location look-ups (`chunk 54: 1 holder`) too: they are
    /// frequent and rarely acted on, so they are off until the user asks (`d`).
    public internal(set) var showsDetail = false
    /// Lines scrolled back from the newest, counting only the lines shown.
    public var logScroll = 0
    public var peerScroll = 0
    /// The chunk under the map cursor, 1-based.
    public var cursor = 1
    public var mode: Mode = .normal
    public var focus: Focus = .log
    /// A torrent's files, and the one under the files pane's cursor (0-based).
    public internal(set) var files: [FileProgress] = []
    public var fileCursor = 0
    /// Which list shares the screen with the log: the peers, or (after Tab to them) the files.
    public internal(set) var listPane: Focus = .peers
    /// Whether pieces are fetched in order.
    public internal(set) var sequential = false
    /// A one-line answer to the last command, shown in the status line.
    public var status: (text: String, isError: Bool)? {
        get { statusText.map { ($0, statusIsError) } }
        set {
            statusText = newValue?.text
            statusIsError = newValue?.isError ?? false
        }
    }
    var statusText: String?
    var statusIsError = false
    /// Seconds since the UI started; views compute rates and countdowns from it.
    public internal(set) var now = 0.0

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

    /// The state of chunk `index` (1-based).
    public func chunkState(_ index: ChunkIndex) -> ChunkState? {
        chunks.indices.contains(index.value - 1) ? chunks[index.value - 1] : nil
    }
}
