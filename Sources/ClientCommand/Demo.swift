import Foundation
import Logging
import SwarmCore
import SwarmProtocol
import SwarmTracker
import SwarmTUI
import Synchronization

/// `client -demo`: a whole swarm in one process, on loopback, drawn live.
///
/// A tracker on a free port; seeders holding a generated file's chunks scattered among them
/// (one of them joins late with chunks nobody else has, so "nowhere yet" cells turn available);
/// a leecher that starts empty, so this client serves too; and this client, starting with
/// nothing. Every peer is a real engine with real sockets and the real protocol; uploads are
/// limited with the engine's own limiter so the download takes about half a minute. The data
/// lives in a temporary folder removed on exit.
struct Demo {
    let chunks: Int
    let peers: Int
    let startPaused: Bool
    let showsInterface: Bool

    /// The whole file stays small (16 MiB at most); the rates are set from it.
    var chunkSize: Int { max(1024, min(256 * 1024, (16 << 20) / chunks)) }
    private var seeders: Int { max(1, peers - 1) }
    private static let lateJoinDelay: Duration = .seconds(6)
    /// From this many chunks, writing the folders takes long enough (5 s for 100,000) to say so.
    private static let chunksWorthAWord = 10_000
    private static let targetSeconds = 30.0

    func run() async throws {
        // One trap for the demo's whole life: a stop signal while the folders are written
        // (seconds for 100,000 chunks) ends the preparation, and the folder is removed after the
        // session as before it.
        let stopped = StopRequest()
        let signals = SignalTrap(signals: SignalTrap.stopSignals) { _ in stopped.request() }
        defer { signals.cancel() }
        let root = try Self.makeTemporaryFolder()
        defer { removeFolder(root) }
        let logFile = try LogFile()
        func logger(_ name: String) -> Logger { Logger(label: name) { LineLogHandler.seed(name: $0, file: logFile) } }

        let holders = holdings()
        if chunks >= Self.chunksWorthAWord {
            Self.say("writing the peers' folders in \(root) for a file of \(chunks) chunks...")
        }
        for seeder in 0..<seeders {
            let held = (1...chunks).filter { holders[$0].contains(seeder) }
            guard try writeFolder("\(root)/peer-\(seeder + 1)", holding: held, unless: stopped) else { return }
        }
        guard try writeFolder("\(root)/leecher", holding: [], unless: stopped), try writeFolder("\(root)/you", holding: [], unless: stopped) else {
            return
        }

        let server = try await TrackerServer.start(
            host: "127.0.0.1", port: 0, registry: TrackerRegistry(), logger: logger("P2PTracker"))
        let tracker = PeerAddress(host: "127.0.0.1", port: server.localAddress.port!)!
        var peers: [Task<Void, Never>] = []
        do {
            try startPeers(into: &peers, root: root, tracker: tracker, logger: logger)
            var configuration = Swarm.Configuration(name: "you", trackers: [tracker], advertiseHost: "127.0.0.1", transferPort: 0)
            configuration.startPaused = startPaused
            configuration.uploadLimit = TokenBucket(bytesPerSecond: perPeerRate)
            let store = try ChunkStore.open(folder: "\(root)/you")
            let swarm = Swarm(configuration: configuration, store: store, logger: logger("you"))
            if !stopped.isRequested {
                try await ClientSession(swarm: swarm, name: "you", tracker: tracker.description, showsInterface: showsInterface, signals: signals).run()
            }
        } catch {
            await Self.stop(peers, server)
            throw error
        }
        await Self.stop(peers, server)
    }

    /// Removes the demo's folder, saying so when it is big enough to take a moment (up to
    /// 300,000 files for 100,000 chunks: seconds).
    private func removeFolder(_ root: String) {
        if chunks >= Self.chunksWorthAWord {
            Self.say("removing \(root)...")
        }
        do {
            try FileSystem.removeTree(root)
        } catch {
            Self.say("could not remove all of \(root): \(error)")
        }
    }

    /// Writes `message` to standard error at once. A write that fails is lost rather than fatal
    /// (Foundation's `FileHandle.write(_:)` stops the process): after a stop by SIGHUP the
    /// terminal is gone, and the folder must still be removed.
    private static func say(_ message: String) {
        LogFile.standardError.append(line: message, after: "client -demo: ")
        LogFile.standardError.flush()
    }

    /// The rate each simulated peer serves (and the leecher fetches) at, bytes per second: the
    /// whole file in about ``targetSeconds`` from up to four seeders.
    private var perPeerRate: Double {
        max(4096, Double(chunkSize * chunks) / Self.targetSeconds / Double(min(seeders, 4)))
    }

    /// Starts the simulated seeders (the last one late, with more than two) and the leecher,
    /// adding each to `peers` as it starts.
    private func startPeers(into peers: inout [Task<Void, Never>], root: String, tracker: PeerAddress, logger: (String) -> Logger) throws {
        for seeder in 0..<seeders {
            let name = "peer-\(seeder + 1)"
            var configuration = Swarm.Configuration(name: name, trackers: [tracker], advertiseHost: "127.0.0.1", transferPort: 0)
            configuration.startPaused = true  // seeders only serve
            configuration.uploadLimit = TokenBucket(bytesPerSecond: perPeerRate)
            let store = try ChunkStore.open(folder: "\(root)/\(name)")
            let isLate = seeders > 2 && seeder == seeders - 1
            peers.append(Self.start(Swarm(configuration: configuration, store: store, logger: logger(name)), after: isLate ? Self.lateJoinDelay : .zero))
        }
        if self.peers > 1 {
            var configuration = Swarm.Configuration(name: "leecher", trackers: [tracker], advertiseHost: "127.0.0.1", transferPort: 0)
            configuration.uploadLimit = TokenBucket(bytesPerSecond: perPeerRate)
            configuration.fetcher.downloadLimit = TokenBucket(bytesPerSecond: perPeerRate)
            let store = try ChunkStore.open(folder: "\(root)/leecher")
            peers.append(Self.start(Swarm(configuration: configuration, store: store, logger: logger("leecher")), after: .seconds(2)))
        }
    }

    /// Stops the simulated peers and waits until each has stopped (its fetches ended, its list
    /// written), then the tracker: only then may their folders be removed. Removing them while
    /// a peer still wrote left half of them behind.
    private static func stop(_ peers: [Task<Void, Never>], _ server: TrackerServer) async {
        for peer in peers { peer.cancel() }
        for peer in peers { await peer.value }
        await server.shutdown()
    }

    /// Which seeders hold each chunk (index 1…chunks). Every chunk has a holder; the late seeder
    /// alone holds every tenth chunk.
    private func holdings() -> [Set<Int>] {
        var generator = SystemRandomNumberGenerator()
        var holders = Array(repeating: Set<Int>(), count: chunks + 1)
        let late = seeders > 2 ? seeders - 1 : nil
        let early = late.map { $0 } ?? seeders
        for index in 1...chunks {
            if let late, index % 10 == 7 {
                holders[index] = [late]
                continue
            }
            holders[index].insert(index % early)
            while Int.random(in: 0..<3, using: &generator) == 0, holders[index].count < early {
                holders[index].insert(Int.random(in: 0..<early, using: &generator))
            }
        }
        return holders
    }

    /// Writes a peer's folder holding `held`; `false` if a stop was requested before it was done.
    private func writeFolder(_ path: String, holding held: [Int], unless stopped: StopRequest) throws -> Bool {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var list = ""
        for index in held {
            guard !stopped.isRequested else { return false }
            try FileSystem.writeWithoutSync(Self.content(of: index, size: chunkSize), to: "\(path)/chunk_\(index)")
            list += "\(index),chunk_\(index)\n"
        }
        list += "\(chunks),LASTCHUNK\n"
        try list.write(toFile: "\(path)/\(ChunkList.fileName)", atomically: true, encoding: .utf8)
        return true
    }

    /// The generated file's chunk `index`: the same bytes whoever writes it.
    private static func content(of index: Int, size: Int) -> [UInt8] {
        SplitMix64.bytes(count: size, seed: UInt64(index))
    }

    private static func start(_ swarm: Swarm, after delay: Duration) -> Task<Void, Never> {
        Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            let drain = Task { for await _ in swarm.events {} }
            try? await swarm.run()
            drain.cancel()
        }
    }

    private static func makeTemporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-demo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Whether a stop signal came while the demo was being prepared.
private final class StopRequest: Sendable {
    private let requested = Mutex(false)

    func request() { requested.withLock { $0 = true } }

    var isRequested: Bool { requested.withLock { $0 } }
}
