import Foundation
import LoopbackSupport
import SwarmCore
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The BitTorrent race: one libtorrent seeder, and in turn our client and a libtorrent leecher
/// fetching the same torrent from it. Needs Debian's `python3-libtorrent` and `opentracker`.
extension Workbench {
    static let python = "/usr/bin/python3"
    static let opentracker = "/usr/bin/opentracker"

    /// The libtorrent peer script the tests use, beside this package's sources.
    static var libtorrentPeer: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/IntegrationTests/Torrent/lt_peer.py").path
    }

    /// Whether libtorrent's Python module and opentracker are there.
    static var hasTorrentTools: Bool {
        FileManager.default.isExecutableFile(atPath: opentracker) && FileManager.default.fileExists(atPath: libtorrentPeer)
            && system("\(python) -c 'import libtorrent' >/dev/null 2>&1") == 0
    }

    /// A `mebibytes` file in 1 MiB pieces seeded by libtorrent through opentracker; our client
    /// (from its start to its exit with every piece checked, announce included) and a
    /// libtorrent leecher (told the seeder's address; from adding the torrent to holding it all)
    /// fetch it in turn, `runs` times each, alternating. Medians, their ratio, our peak RSS.
    func torrentRace(mebibytes: Int, runs: Int) throws -> Row {
        let scenario = "libtorrent seeder -> our client vs -> a libtorrent leecher, \(mebibytes) MiB in 1 MiB pieces (median of \(runs), alternating)"
        guard Self.hasTorrentTools else {
            return Row(scenario: scenario, swarm: "-", baseline: "-", verdict: "not run: needs python3-libtorrent and opentracker (bash .ci/run installs them)")
        }
        let folder = root.appendingPathComponent("race")
        let seed = folder.appendingPathComponent("seed")
        try FileManager.default.createDirectory(at: seed, withIntermediateDirectories: true)
        let content = seed.appendingPathComponent("race.bin")
        var generator = SplitMix64(seed: 42)
        var bytes = [UInt8](repeating: 0, count: mebibytes << 20)
        bytes.withUnsafeMutableBytes { raw in
            for position in raw.bindMemory(to: UInt64.self).indices { raw.storeBytes(of: generator.next(), toByteOffset: position * 8, as: UInt64.self) }
        }
        try FileSystem.writeWithoutSync(bytes, to: content.path)
        bytes = []

        // The torrent, made by our client; its info-hash whitelisted at a fresh opentracker.
        let trackerPort = LoopbackPort.unused()
        let torrent = folder.appendingPathComponent("race.torrent")
        let maker = try spawnTool(
            binaries.appendingPathComponent("client").path, "make-torrent",
            ["-make-torrent", content.path, "-announce", "http://127.0.0.1:\(trackerPort)/announce", "-piece-size", "1024", "-o", torrent.path])
        guard let made = maker.waitForExit(timeout: .seconds(300)), made.succeeded else { throw BenchError("cannot make the torrent: \(maker.output)") }
        let metainfo = try Metainfo(parsing: Array(try Data(contentsOf: torrent)))
        let trackerFolder = folder.appendingPathComponent("opentracker")
        try FileManager.default.createDirectory(at: trackerFolder, withIntermediateDirectories: true)
        try (metainfo.infoHash.hex + "\n").write(to: trackerFolder.appendingPathComponent("whitelist"), atomically: true, encoding: .utf8)
        for path in [root.path, folder.path, trackerFolder.path] { chmod(path, 0o755) }
        chmod(trackerFolder.appendingPathComponent("whitelist").path, 0o644)
        _ = try spawnTool(Self.opentracker, "opentracker", ["-i", "127.0.0.1", "-p", "\(trackerPort)", "-P", "\(trackerPort)", "-d", trackerFolder.path, "-w", "whitelist"])
        try waitFor("opentracker to listen", timeout: .seconds(30)) {
            guard let descriptor = LoopbackSocket.connected(port: trackerPort) else { return false }
            close(descriptor)
            return true
        }
        let seederPort = LoopbackPort.unused()
        let seeder = try spawnTool(
            Self.python, "lt-seed", [Self.libtorrentPeer, "--torrent", torrent.path, "--save", seed.path, "--port", "\(seederPort)", "--timeout", "3600"])
        try waitFor("libtorrent to seed", timeout: .seconds(300)) { seeder.output.contains("SEEDING") }

        var ours: [Double] = []
        var theirs: [Double] = []
        var peak = 0
        for run in 1...runs {
            let ourFolder = folder.appendingPathComponent("ours\(run)")
            try preparePageCache(bytes: Self.pageCache(for: mebibytes << 20))
            var exit: Spawned.Exit?
            let seconds = try Timing.seconds {
                let client = try spawnTool(
                    binaries.appendingPathComponent("client").path, "race-ours\(run)",
                    ["-torrent", torrent.path, "-folder", ourFolder.path, "-transfer_port", "\(LoopbackPort.unused())", "-name", "race\(run)",
                     "-headless", "-exit-when-complete"])
                exit = client.waitForExit(timeout: .seconds(600))
            }
            guard let exit, exit.succeeded else { throw BenchError("our client did not finish the race (run \(run))") }
            guard try Self.sameBytes(content, ourFolder.appendingPathComponent("race.bin")) else { throw BenchError("our copy differs (run \(run))") }
            ours.append(seconds)
            peak = max(peak, exit.peakResidentBytes)
            try setAside(ourFolder)

            let leechFolder = folder.appendingPathComponent("libtorrent\(run)")
            try preparePageCache(bytes: Self.pageCache(for: mebibytes << 20))
            let leecher = try spawnTool(
                Self.python, "race-lt\(run)",
                [Self.libtorrentPeer, "--torrent", torrent.path, "--save", leechFolder.path, "--port", "\(LoopbackPort.unused())",
                 "--peer", "127.0.0.1:\(seederPort)", "--timeout", "600", "--exit-when-seeding"])
            guard let done = leecher.waitForExit(timeout: .seconds(600)), done.succeeded,
                let line = leecher.output.split(separator: "\n").first(where: { $0.hasPrefix("SEEDING after ") }),
                let took = Double(line.dropFirst("SEEDING after ".count).prefix { $0 != " " })
            else { throw BenchError("the libtorrent leecher did not finish (run \(run)): \(leecher.output.suffix(500))") }
            guard try Self.sameBytes(content, leechFolder.appendingPathComponent("race.bin")) else { throw BenchError("libtorrent's copy differs (run \(run))") }
            theirs.append(took)
            try setAside(leechFolder)
        }
        let (oursMedian, theirsMedian) = (ours.percentile(0.5), theirs.percentile(0.5))
        let runsText = { (times: [Double]) in times.map { String(format: "%.2f s", $0) }.joined(separator: ", ") }
        let rate = Double(mebibytes << 20) / oursMedian
        return Row(
            scenario: scenario,
            swarm: String(format: "%.2f s (runs: %@; %@); peak RSS %@", oursMedian, runsText(ours), Format.rate(rate), Format.mebibytes(peak)),
            baseline: String(format: "libtorrent leecher %.2f s (runs: %@)", theirsMedian, runsText(theirs)),
            verdict: "\(Format.ratio(theirsMedian / oursMedian)) x libtorrent's speed \(Format.target(theirsMedian / oursMedian, atLeast: 1.5))"
        )
    }
}
