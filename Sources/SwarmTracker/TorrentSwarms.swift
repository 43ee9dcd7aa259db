import Synchronization
import TorrentProtocol

/// The BitTorrent side of the tracker: for each torrent (by info-hash), the peers that announced
/// it, whether each is a seeder, and how many downloads were completed (a `completed` event, or
/// a leecher seen again with nothing left, as some clients only say that).
///
/// A peer is known by its peer id within a torrent; it is dropped when it announces `stopped`,
/// or by ``sweep(now:)`` once it has not announced for ``Settings/expiry``. Torrents are spread
/// over shards, each with its own lock, so announces for different torrents rarely wait for each
/// other; within a torrent, peers sit in one contiguous array (an index by peer id beside it), so
/// adding, updating, removing and picking peers cost the same at any size.
///
/// ```swift
/// let swarms = TorrentSwarms(settings: .init())
/// let answer = swarms.announce(query, from: CompactPeer(ipv4: 0x7f00_0001, port: 6881), now: 0)
/// answer.peers  // up to `numwant` others, chosen at random
/// ```
public final class TorrentSwarms: Sendable {
    /// How often clients are told to announce, and what they may ask for.
    public struct Settings: Sendable {
        /// Seconds between announces a client is told to keep (`interval`).
        public var interval = 1800
        /// Seconds a client must leave at least between announces (`min interval`).
        public var minimumInterval = 900
        /// Peers given when the client does not say (`numwant` missing).
        public var defaultWanted = 50
        /// The most peers given in one answer, whatever `numwant` says.
        public var maximumWanted = 200

        public init() {}

        /// Seconds after its last announce that a peer is forgotten: two intervals.
        public var expiry: Int { 2 * interval }
    }

    /// What an announce gets back: the torrent's counts (the asker included) and the peers
    /// chosen for it (the asker never among them).
    public struct Answer: Sendable {
        public var complete = 0
        public var incomplete = 0
        public var downloaded = 0
        public var peers: [CompactPeer] = []
    }

    /// A torrent's counts, for scrapes.
    public struct Counts: Sendable, Equatable {
        public var complete = 0
        public var incomplete = 0
        public var downloaded = 0
    }

    /// Totals over every torrent, for metrics and the status page.
    public struct Totals: Sendable, Equatable {
        public var torrents = 0
        public var peers = 0
        public var seeders = 0
    }

    public let settings: Settings
    private let shards: [Shard]
    private let created = ContinuousClock.now

    /// Seconds since the registry was made: the clock announces are kept by.
    public var now: Int { Int((ContinuousClock.now - created) / .seconds(1)) }

    public init(settings: Settings = Settings(), shards: Int = 64) {
        self.settings = settings
        self.shards = (0..<max(1, shards)).map { _ in Shard() }
    }

    /// Records `query` from a peer reachable at `address` at `now` (seconds on the registry's
    /// clock, ``now``) and answers it.
    public func announce(_ query: AnnounceQuery, from address: CompactPeer, now: Int) -> Answer {
        let torrent = Key(query.infoHash.bytes)
        let peer = Key(query.peerID)
        let wanted = min(settings.maximumWanted, query.numberWanted ?? settings.defaultWanted)
        let seconds = UInt32(truncatingIfNeeded: now)
        return shard(of: torrent).state.withLock { state in
            var answer = Answer()
            if query.event == .stopped {
                guard var swarm = state.torrents[torrent] else { return answer }
                // A leecher that stops with nothing left finished first (aria2 says only this).
                if query.left == 0, swarm.isLeecher(peer) { swarm.downloaded += 1 }
                swarm.remove(peer)
                answer.fill(from: swarm)
                state.torrents[torrent] = swarm.isEmpty ? nil : swarm
                return answer
            }
            var swarm = state.torrents.removeValue(forKey: torrent) ?? Swarm()
            swarm.update(Peer(key: peer, address: address, lastSeen: seconds, seeding: query.left == 0), completed: query.event == .completed)
            answer.fill(from: swarm)
            answer.peers = swarm.pick(wanted, except: peer, using: &state.random)
            state.torrents[torrent] = swarm
            return answer
        }
    }

    /// The counts of each torrent asked about (zeros for one not known).
    public func scrape(_ hashes: [InfoHash]) -> [Counts] {
        hashes.map { hash in
            let key = Key(hash.bytes)
            return shard(of: key).state.withLock { state in
                guard let swarm = state.torrents[key] else { return Counts() }
                return Counts(complete: swarm.seeders, incomplete: swarm.peers.count - swarm.seeders, downloaded: swarm.downloaded)
            }
        }
    }

    /// Forgets peers that have not announced for ``Settings/expiry`` seconds before `now`, and
    /// torrents left without peers; how many peers went.
    @discardableResult
    public func sweep(now: Int) -> Int {
        let oldest = now - settings.expiry
        var removed = 0
        for shard in shards {
            removed += shard.state.withLock { state in
                var removed = 0
                for key in Array(state.torrents.keys) {
                    var swarm = state.torrents.removeValue(forKey: key)!
                    removed += swarm.removeAll { Int($0.lastSeen) < oldest }
                    if !swarm.isEmpty { state.torrents[key] = swarm }
                }
                return removed
            }
        }
        return removed
    }

    /// Torrents, peers and seeders now.
    public var totals: Totals {
        shards.reduce(into: Totals()) { totals, shard in
            shard.state.withLock { state in
                totals.torrents += state.torrents.count
                for swarm in state.torrents.values {
                    totals.peers += swarm.peers.count
                    totals.seeders += swarm.seeders
                }
            }
        }
    }

    private func shard(of key: Key) -> Shard {
        shards[Int(truncatingIfNeeded: key.first % UInt64(shards.count))]
    }
}

/// Some of the torrents, under a lock of their own.
private final class Shard: Sendable {
    struct State {
        var torrents: [Key: Swarm] = [:]
        /// The shard's own random numbers for picking peers (the system's cost a system call each).
        var random = Xorshift(seed: UInt64.random(in: 1...UInt64.max))
    }

    let state = Mutex(State())
}

/// A small, fast pseudo-random generator (xorshift64*): good enough to pick peers, not for secrets.
struct Xorshift: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// 20 bytes (an info-hash or a peer id) as three integers: cheap to hash and compare.
private struct Key: Hashable {
    let first: UInt64
    let second: UInt64
    let third: UInt32

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 20, "keys are 20 bytes")
        var words = (UInt64(0), UInt64(0), UInt32(0))
        for index in 0..<8 { words.0 = words.0 << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { words.1 = words.1 << 8 | UInt64(bytes[index]) }
        for index in 16..<20 { words.2 = words.2 << 8 | UInt32(bytes[index]) }
        (first, second, third) = words
    }
}

private struct Peer {
    var key: Key
    var address: CompactPeer
    var lastSeen: UInt32
    var seeding: Bool
}

/// One torrent's peers: a contiguous array and an index by peer id into it.
private struct Swarm {
    var peers: ContiguousArray<Peer> = []
    var positions: [Key: Int] = [:]
    var seeders = 0
    var downloaded = 0

    var isEmpty: Bool { peers.isEmpty }

    /// Whether the peer with `key` is known, with something left to fetch.
    func isLeecher(_ key: Key) -> Bool {
        positions[key].map { !peers[$0].seeding } ?? false
    }

    /// Adds or refreshes `peer`. A download is counted when a known leecher comes back as a
    /// seeder (with `completed` or without), or a new peer says `completed`: once per peer.
    mutating func update(_ peer: Peer, completed: Bool) {
        if let position = positions[peer.key] {
            let was = peers[position]
            if peer.seeding, !was.seeding { downloaded += 1 }
            seeders += (peer.seeding ? 1 : 0) - (was.seeding ? 1 : 0)
            peers[position] = peer
        } else {
            if completed { downloaded += 1 }
            if peer.seeding { seeders += 1 }
            positions[peer.key] = peers.count
            peers.append(peer)
        }
    }

    /// Removes the peer with `key`, if known: the last peer moves into its place.
    mutating func remove(_ key: Key) {
        guard let position = positions.removeValue(forKey: key) else { return }
        if peers[position].seeding { seeders -= 1 }
        let last = peers.removeLast()
        if position < peers.count {
            peers[position] = last
            positions[last.key] = position
        }
    }

    /// Removes every peer matching `condition`; how many went.
    mutating func removeAll(where condition: (Peer) -> Bool) -> Int {
        let before = peers.count
        peers.removeAll(where: condition)
        guard peers.count < before else { return 0 }
        positions.removeAll(keepingCapacity: true)
        seeders = 0
        for (position, peer) in peers.enumerated() {
            positions[peer.key] = position
            if peer.seeding { seeders += 1 }
        }
        return before - peers.count
    }

    /// Up to `count` peers other than `asker`, chosen at random: a walk from a random start by a
    /// random step prime to the number of peers, so every peer is equally likely and none twice.
    func pick(_ count: Int, except asker: Key, using random: inout some RandomNumberGenerator) -> [CompactPeer] {
        let others = peers.count - (positions[asker] == nil ? 0 : 1)
        guard count > 0, others > 0 else { return [] }
        var chosen: [CompactPeer] = []
        chosen.reserveCapacity(min(count, others))
        let total = peers.count
        var position = Int.random(in: 0..<total, using: &random)
        var step = total == 1 ? 1 : Int.random(in: 1..<total, using: &random)
        while Self.greatestCommonDivisor(step, total) != 1 { step = step % (total - 1) + 1 }
        var visited = 0
        while visited < total, chosen.count < count {
            let peer = peers[position]
            if peer.key != asker { chosen.append(peer.address) }
            position = (position + step) % total
            visited += 1
        }
        return chosen
    }

    private static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        b == 0 ? a : greatestCommonDivisor(b, a % b)
    }
}

extension TorrentSwarms.Answer {
    fileprivate mutating func fill(from swarm: Swarm) {
        complete = swarm.seeders
        incomplete = swarm.peers.count - swarm.seeders
        downloaded = swarm.downloaded
    }
}
