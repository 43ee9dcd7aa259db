import Foundation
import LoopbackSupport

#if canImport(Glibc)
import Glibc
#endif

/// The tracker race: `wrk` sending BitTorrent announces to our tracker's `/announce` and to
/// opentracker's, in the same run, alternating. Needs Debian's `wrk` and `opentracker`.
extension Workbench {
    static let wrk = "/usr/bin/wrk"

    /// The 20-byte info-hash of torrent `number` (0-based) of the race, as hex.
    static func raceHash(_ number: Int) -> String {
        String(repeating: "5a", count: 16) + String(format: "%08x", number)
    }

    /// A Lua function for the wrk scripts: `hex(number)`, the four bytes of a number below 2^32
    /// percent-encoded, as the last four bytes of an info hash (LuaJIT: no bitwise operators).
    static let luaPercentEncodedNumber = """
        local function hex(number)
          return string.format("%%%02X%%%02X%%%02X%%%02X", math.floor(number / 16777216) % 256, math.floor(number / 65536) % 256, math.floor(number / 256) % 256, number % 256)
        end
        """

    /// The wrk script (LuaJIT: no bitwise operators): each request announces one of `torrents` torrents (the hashes of
    /// ``raceHash(_:)``) for a random peer id and port, `compact=1`, `numwant=50`.
    static func announceScript(torrents: Int) -> String {
        """
        \(luaPercentEncodedNumber)
        local prefix = string.rep("%5A", 16)
        math.randomseed(os.time() + math.floor(os.clock() * 1000000))
        request = function()
          local torrent = math.random(0, \(torrents - 1))
          local hash = prefix .. hex(torrent)
          local peer = string.format("-WR0001-%06d%06d", math.random(0, 999999), math.random(0, 999999))
          local left = math.random(0, 3) == 0 and 0 or 1000
          return wrk.format("GET", "/announce?info_hash=" .. hash .. "&peer_id=" .. peer .. "&port=" .. math.random(1024, 65535) .. "&uploaded=0&downloaded=0&left=" .. left .. "&compact=1&numwant=50")
        end
        """
    }

    /// wrk against `port` for `seconds`: requests per second, p50 and p99 latency (ms), and
    /// the share of answers that were errors or not 200.
    func runWrk(port: Int, script: URL, connections: Int, seconds: Int) throws -> (rate: Double, p50: Double, p99: Double, errors: Int) {
        let wrk = try spawnTool(
            Self.wrk, "wrk-\(port)-\(UUID().uuidString.prefix(6))",
            ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script.path, "http://127.0.0.1:\(port)"])
        guard let exit = wrk.waitForExit(timeout: .seconds(Int64(seconds) + 60)), exit.succeeded else { throw BenchError("wrk failed: \(wrk.output)") }
        let lines = wrk.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func value(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) }?.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces) }
        func milliseconds(_ text: String?) -> Double {
            guard let text else { return .nan }
            let units: [(String, Double)] = [("us", 0.001), ("ms", 1), ("s", 1000)]
            for (unit, scale) in units where text.hasSuffix(unit) { return (Double(text.dropLast(unit.count)) ?? .nan) * scale }
            return .nan
        }
        guard let rate = value("Requests/sec:").flatMap(Double.init) else { throw BenchError("no rate in wrk's output: \(wrk.output)") }
        let errors = (value("Non-2xx or 3xx responses:").flatMap { Int($0) } ?? 0)
            + (lines.first { $0.hasPrefix("Socket errors:") }.map { line in
                line.split(separator: ",").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
            } ?? 0)
        return (rate, milliseconds(value("50%")), milliseconds(value("99%")), errors)
    }

    /// Our tracker's `/announce` and opentracker's under the same wrk load, `runs` times each,
    /// alternating: `connections` connections, `torrents` torrents, random peer ids.
    func announceRace(connections: Int, torrents: Int, seconds: Int, runs: Int) throws -> Row {
        let scenario = "announces over HTTP: wrk, \(connections) connections, \(torrents) torrents, random peer ids, compact, numwant=50 (median of \(runs), alternating)"
        guard FileManager.default.isExecutableFile(atPath: Self.wrk), FileManager.default.isExecutableFile(atPath: Self.opentracker) else {
            return Row(scenario: scenario, swarm: "-", baseline: "-", verdict: "not run: needs wrk and opentracker (bash .ci/run installs them)")
        }
        let folder = root.appendingPathComponent("announce-race")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = folder.appendingPathComponent("announce.lua")
        try Self.announceScript(torrents: torrents).write(to: script, atomically: true, encoding: .utf8)
        // Ours, with the BitTorrent front end.
        let ourPort = LoopbackPort.unused()
        let ours = try spawnTool(
            binaries.appendingPathComponent("tracker").path, "tracker-http-\(ourPort)",
            ["-port", "\(LoopbackPort.unused())", "-http-port", "\(ourPort)", "-stats-interval", "0"])
        // opentracker, every race torrent whitelisted.
        let theirPort = LoopbackPort.unused()
        let trackerFolder = folder.appendingPathComponent("opentracker")
        try FileManager.default.createDirectory(at: trackerFolder, withIntermediateDirectories: true)
        try ((0..<torrents).map(Self.raceHash).joined(separator: "\n") + "\n").write(to: trackerFolder.appendingPathComponent("whitelist"), atomically: true, encoding: .utf8)
        for path in [root.path, folder.path, trackerFolder.path] { chmod(path, 0o755) }
        chmod(trackerFolder.appendingPathComponent("whitelist").path, 0o644)
        _ = try spawnTool(Self.opentracker, "opentracker-\(theirPort)", ["-i", "127.0.0.1", "-p", "\(theirPort)", "-d", trackerFolder.path, "-w", "whitelist"])
        for port in [ourPort, theirPort] {
            try waitFor("a tracker on \(port) to listen", timeout: .seconds(30)) {
                guard let descriptor = LoopbackSocket.connected(port: port) else { return false }
                close(descriptor)
                return true
            }
        }
        var (ourRuns, theirRuns) = ([(rate: Double, p50: Double, p99: Double, errors: Int)](), [(rate: Double, p50: Double, p99: Double, errors: Int)]())
        for _ in 1...runs {
            ourRuns.append(try runWrk(port: ourPort, script: script, connections: connections, seconds: seconds))
            theirRuns.append(try runWrk(port: theirPort, script: script, connections: connections, seconds: seconds))
        }
        let peak = ours.peakResident() ?? 0
        let median = { (runs: [(rate: Double, p50: Double, p99: Double, errors: Int)]) in runs.sorted { $0.rate < $1.rate }[runs.count / 2] }
        let (mine, theirs) = (median(ourRuns), median(theirRuns))
        let describe = { (run: (rate: Double, p50: Double, p99: Double, errors: Int), all: [(rate: Double, p50: Double, p99: Double, errors: Int)]) in
            String(format: "%.0f announces/s (runs: %@), p50 %.2f ms, p99 %.2f ms, %d errors", run.rate, all.map { String(format: "%.0f", $0.rate) }.joined(separator: ", "), run.p50, run.p99, all.map(\.errors).reduce(0, +))
        }
        let ratio = mine.rate / theirs.rate
        return Row(
            scenario: scenario,
            swarm: describe(mine, ourRuns) + "; peak RSS \(Format.mebibytes(peak))",
            baseline: "opentracker " + describe(theirs, theirRuns),
            verdict: "\(Format.ratio(ratio)) x opentracker's rate \(Format.target(ratio, atLeast: 1.0)) (goal 2)"
        )
    }
}
