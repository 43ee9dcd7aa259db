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
}

extension Swarm: SwarmEngine {}
