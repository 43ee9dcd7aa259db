/// What the terminal UI and the headless printer drive: the classic engine (``Swarm``) or a
/// torrent's. Events go out through ``events``; commands come in as method calls.
public protocol SwarmEngine: Actor {
    /// Everything that happens, in order. One consumer.
    nonisolated var events: AsyncStream<SwarmEvent> { get }
    /// Serves and fetches until cancelled, or until complete when configured to stop then.
    func run() async throws
    /// Stops starting new fetches; serving goes on.
    func pause()
    /// Starts fetching again.
    func resume()
    /// Fetches chunk (or piece) `value`, numbered from 1, first, even while paused.
    func request(_ value: Int) throws(Swarm.CommandError)
    /// Fetches in index order (`true`) or rarest first (`false`).
    func setSequential(_ sequential: Bool)
    /// Skips, fetches, or fetches first the file at `index` (0-based) of a torrent.
    func setPriority(_ priority: FilePriority, ofFile index: Int) throws(Swarm.CommandError)
}

/// How much a torrent's file is wanted.
public enum FilePriority: String, Sendable, Equatable, CaseIterable {
    /// Not fetched (pieces it shares with a wanted file still are).
    case skip
    case normal
    /// Fetched before the normal ones.
    case high
}

/// One file of a torrent as the files pane shows it.
public struct FileProgress: Sendable, Equatable {
    /// Its path in the torrent.
    public var path: String
    public var bytes: Int64
    /// Bytes of it in verified pieces, over its size.
    public var done: Double
    public var priority: FilePriority

    public init(path: String, bytes: Int64, done: Double, priority: FilePriority) {
        self.path = path
        self.bytes = bytes
        self.done = done
        self.priority = priority
    }
}

extension Swarm: SwarmEngine {
    /// A chunk folder is one file: there are no files to choose from.
    public func setPriority(_ priority: FilePriority, ofFile index: Int) throws(Swarm.CommandError) {
        throw .noSuchFile(index, count: 0)
    }
}
