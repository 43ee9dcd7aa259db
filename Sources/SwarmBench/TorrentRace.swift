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

    /// Writes `mebibytes` of pseudo-random bytes to `url`, 64 MiB at a time.
    func writeRandomFile(_ url: URL, mebibytes: Int, seed: UInt64) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let output = try FileHandle(forWritingTo: url)
        defer { try? output.close() }
        var generator = SplitMix64(seed: seed)
        var left = mebibytes << 20
        while left > 0 {
            var slab = [UInt8](repeating: 0, count: min(left, 64 << 20))
            slab.withUnsafeMutableBytes { raw in
                for position in raw.bindMemory(to: UInt64.self).indices { raw.storeBytes(of: generator.next(), toByteOffset: position * 8, as: UInt64.self) }
            }
            try output.write(contentsOf: slab)
            left -= slab.count
        }
        sync()
    }

    /// A torrent of `content` in 1 MiB pieces made by our client, announcing to a fresh
    /// opentracker on 127.0.0.1 that knows it; the torrent's path.
    func torrentWithTracker(of content: URL, in folder: URL) throws -> URL {
        let trackerPort = LoopbackPort.unused()
        let torrent = folder.appendingPathComponent("\(content.deletingPathExtension().lastPathComponent).torrent")
        let maker = try spawnTool(
            binaries.appendingPathComponent("client").path, "make-\(torrent.lastPathComponent)",
            ["-make-torrent", content.path, "-announce", "http://127.0.0.1:\(trackerPort)/announce", "-piece-size", "1024", "-o", torrent.path])
        guard let made = maker.waitForExit(timeout: .seconds(600)), made.succeeded else { throw BenchError("cannot make the torrent: \(maker.output)") }
        let metainfo = try Metainfo(parsing: Array(try Data(contentsOf: torrent)))
        let trackerFolder = folder.appendingPathComponent("opentracker-\(trackerPort)")
        try FileManager.default.createDirectory(at: trackerFolder, withIntermediateDirectories: true)
        try (metainfo.infoHash.hex + "\n").write(to: trackerFolder.appendingPathComponent("whitelist"), atomically: true, encoding: .utf8)
        // opentracker reads its whitelist after chrooting into its folder as nobody.
        for path in [root.path, folder.path, trackerFolder.path] { chmod(path, 0o755) }
        chmod(trackerFolder.appendingPathComponent("whitelist").path, 0o644)
        _ = try spawnTool(Self.opentracker, "opentracker-\(trackerPort)", ["-i", "127.0.0.1", "-p", "\(trackerPort)", "-P", "\(trackerPort)", "-d", trackerFolder.path, "-w", "whitelist"])
        try waitFor("opentracker to listen", timeout: .seconds(30)) {
            guard let descriptor = LoopbackSocket.connected(port: trackerPort) else { return false }
            close(descriptor)
            return true
        }
        return torrent
    }

    /// Our client downloading `torrent` into `folder` until it exits with every piece checked;
    /// the seconds from its start, and its exit (peak RSS, CPU). The copy is compared with `content`.
    func ourDownload(_ torrent: URL, into folder: URL, content: URL, name: String) throws -> (seconds: Double, exit: Spawned.Exit) {
        var exit: Spawned.Exit?
        let seconds = try Timing.seconds {
            let client = try spawnTool(
                binaries.appendingPathComponent("client").path, name,
                ["-torrent", torrent.path, "-folder", folder.path, "-transfer_port", "\(LoopbackPort.unused())", "-name", name, "-headless", "-exit-when-complete"])
            exit = client.waitForExit(timeout: .seconds(1200))
        }
        guard let exit, exit.succeeded else { throw BenchError("our client \(name) did not finish") }
        guard try Self.sameBytes(content, folder.appendingPathComponent(content.lastPathComponent)) else { throw BenchError("\(name)'s copy differs") }
        return (seconds, exit)
    }

    /// Our client seeding `content` (its folder) for `torrent`, once it has checked it and announced.
    func startOurSeeder(_ torrent: URL, content: URL) throws -> Spawned {
        let seeder = try spawnTool(
            binaries.appendingPathComponent("client").path, "seed-\(torrent.lastPathComponent)",
            ["-torrent", torrent.path, "-folder", content.deletingLastPathComponent().path, "-transfer_port", "\(LoopbackPort.unused())",
             "-name", "seeder", "-headless"])
        try waitFor("our seeder to check its copy and announce", timeout: .seconds(600)) { seeder.output.contains("tracker connected") }
        return seeder
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
        let content = seed.appendingPathComponent("race.bin")
        try writeRandomFile(content, mebibytes: mebibytes, seed: 42)
        let torrent = try torrentWithTracker(of: content, in: folder)
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
            let (seconds, exit) = try ourDownload(torrent, into: ourFolder, content: content, name: "race-ours\(run)")
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

    /// A `mebibytes` file `<name>.bin` in the folder `torrent-<name>`, its torrent at a fresh
    /// opentracker, and our client seeding it.
    private func ourSeededTorrent(_ name: String, mebibytes: Int) throws -> (folder: URL, content: URL, torrent: URL) {
        let folder = root.appendingPathComponent("torrent-\(name)")
        let content = folder.appendingPathComponent("seed/\(name).bin")
        try writeRandomFile(content, mebibytes: mebibytes, seed: UInt64(mebibytes))
        let torrent = try torrentWithTracker(of: content, in: folder)
        _ = try startOurSeeder(torrent, content: content)
        return (folder, content, torrent)
    }

    /// Our seeder → our client on a `mebibytes` torrent, `runs` times, against the verified copy
    /// of the same file (the least any verifying client does), as the classic 1 → 1 row.
    func torrentOneToOne(mebibytes: Int, runs: Int) throws -> Row {
        let scenario = "our seeder -> our client, \(mebibytes) MiB torrent in 1 MiB pieces (median of \(runs))"
        guard FileManager.default.isExecutableFile(atPath: Self.opentracker) else {
            return Row(scenario: scenario, swarm: "-", baseline: "-", verdict: "not run: needs opentracker (bash .ci/run installs it)")
        }
        let (folder, content, torrent) = try ourSeededTorrent("one", mebibytes: mebibytes)
        var times: [Double] = []
        for run in 1...runs {
            let leecher = folder.appendingPathComponent("leech\(run)")
            try preparePageCache(bytes: Self.pageCache(for: mebibytes << 20))
            times.append(try ourDownload(torrent, into: leecher, content: content, name: "one-to-one\(run)").seconds)
            try setAside(leecher)
        }
        let file = TestFile(whole: content, seeder: content, chunks: 1, bytes: mebibytes << 20)
        let verified = try (1...runs).map { _ in try verifiedCopy(file).seconds }
        let (ours, baseline) = (times.percentile(0.5), verified.percentile(0.5))
        let bytes = Double(mebibytes << 20)
        return Row(
            scenario: scenario,
            swarm: Format.rate(bytes / ours) + " (runs: " + times.map { Format.rate(bytes / $0) }.joined(separator: ", ") + ")",
            baseline: "verified copy (\(Self.cores) streams, SHA-1, write to a file) " + Format.rate(bytes / baseline),
            verdict: "\(Format.ratio(baseline / ours)) of the verified copy (whole process, start-up and announce included)"
        )
    }

    /// Our client downloading a `mebibytes` torrent from our seeder: its peak RSS, which must
    /// not grow with the torrent's size.
    func torrentMemory(mebibytes: Int) throws -> Row {
        let scenario = "one client fetching a \(mebibytes) MiB torrent from our seeder"
        guard FileManager.default.isExecutableFile(atPath: Self.opentracker) else {
            return Row(scenario: scenario, swarm: "-", baseline: "-", verdict: "not run: needs opentracker (bash .ci/run installs it)")
        }
        let (folder, content, torrent) = try ourSeededTorrent("large", mebibytes: mebibytes)
        let (seconds, exit) = try ourDownload(torrent, into: folder.appendingPathComponent("leech"), content: content, name: "memory")
        return Row(
            scenario: scenario,
            swarm: String(format: "peak RSS %@ (%.1f s, %@)", Format.mebibytes(exit.peakResidentBytes), seconds, Format.rate(Double(mebibytes << 20) / seconds)),
            baseline: "-",
            verdict: "\(Format.mebibytes(exit.peakResidentBytes)) (target <= 100 MiB)"
        )
    }
}
