import SwarmProtocol

/// Everything the engine tells its consumers (the TUI, the headless log printer), in order.
public enum SwarmEvent: Sendable, Equatable {
    /// The folder was checked and its chunks hashed; serving starts.
    case started(name: String, folder: String, total: Int, held: Set<ChunkIndex>, serving: PeerAddress)
    /// The tracker link changed (with several trackers: their links as one, ``TrackerLinks/overall(_:)``).
    case tracker(TrackerState)
    /// One of several trackers' links changed.
    case trackerLink(PeerAddress, TrackerState)
    /// Our chunks are registered with `tracker` under this address (told when it is new).
    case advertising(PeerAddress, tracker: PeerAddress)
    /// The chunks held were registered (or queued to be) with the tracker.
    case registered(count: Int)
    /// The tracker said where a chunk is.
    case located(ChunkIndex, holders: [PeerAddress])
    /// A background survey learned where a missing chunk is (an empty list: nowhere yet).
    case surveyed(ChunkIndex, holders: [PeerAddress])
    /// The tracker knows no holder for a chunk yet; it is asked again later.
    case nowhere(ChunkIndex)
    /// A fetch started.
    case requested(ChunkIndex, from: PeerAddress)
    /// Bytes of a chunk arrived (sent in batches while a transfer runs).
    case receiving(ChunkIndex, from: PeerAddress, bytes: Int)
    /// A chunk was fetched, checked and saved.
    case fetched(ChunkIndex, from: PeerAddress, bytes: Int, seconds: Double)
    /// Fetching a chunk from one holder failed; another holder (or a later pass) is tried.
    case failed(ChunkIndex, from: PeerAddress?, reason: String)
    /// A second fetch of the same chunk (endgame) was dropped: the other copy arrived first.
    case abandoned(ChunkIndex, from: PeerAddress)
    /// A holder sent bad data too often and is not used again in this run.
    case peerBanned(PeerAddress, badChunks: Int)
    /// A request from another peer was served or refused.
    case served(ServeReport)
    /// A magnet link's metadata (the torrent's info) is being asked of peers; `name` is the link's.
    case fetchingMetadata(name: String?)
    /// What a torrent holds: its name and size in bytes.
    case torrent(name: String, bytes: Int64)
    /// The swarm's size as the tracker reported it: peers with everything, and the others.
    case swarmSize(seeds: Int?, leechers: Int?)
    /// How many connected peers hold each piece whose count changed.
    case availability([ChunkIndex: Int])
    /// A torrent's files: size, verified share and priority, sent when they change.
    case files([FileProgress])
    /// A connected peer's client, flags and progress, sent when they change.
    case peerStatus(PeerStatus)
    /// Content already in the folder was checked at start-up: `good` of `count` pieces matched.
    case checked(count: Int, good: Int)
    /// Bytes of a block went to a peer (BitTorrent serves blocks, not whole chunks).
    case uploaded(to: PeerAddress, bytes: Int)
    /// A peer connection was closed, and why (it broke the protocol, stalled, or left).
    case peerDropped(PeerAddress, reason: String)
    /// Fetching was paused or resumed.
    case paused(Bool)
    /// Every chunk is held.
    case complete(total: Int)
    /// Something went wrong that the user should see (a disk error, say).
    case problem(String)
    /// The chunks were written in order to a file (`-assemble`).
    case assembled(path: String, bytes: Int64)
}

/// A BitTorrent peer as the peers pane shows it.
public struct PeerStatus: Sendable, Equatable {
    public var address: PeerAddress
    /// Its client's name and version, from its BEP 10 handshake or its peer id.
    public var client: String
    /// libtorrent's letters: `D` downloading from it, `d` it chokes us while we want something,
    /// `U` uploading to it, `u` we choke it while it wants something, `K` it unchokes us but we
    /// want nothing, `?` we unchoke it but it wants nothing, `I` it connected to us, `O` our
    /// optimistic unchoke.
    public var flags: String
    /// How much of the content it holds, 0…1.
    public var progress: Double

    public init(address: PeerAddress, client: String, flags: String, progress: Double) {
        self.address = address
        self.client = client
        self.flags = flags
        self.progress = progress
    }
}
