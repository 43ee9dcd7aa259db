import Foundation
import LoopbackSupport

#if canImport(Glibc)
import Glibc
#endif

/// How the tracker's cost grows with what it holds: memory per entry and answer rate at a
/// small and a large registry, classic and BitTorrent.
extension Workbench {
    /// One registry size measured: its memory above idle per entry, and the answer rate.
    struct GrowthPoint {
        let entries: Int
        let bytesPerEntry: Double
        let rate: Double
    }

    /// Registers `count` chunks, each held by `holderPort` (a port that accepts, as a real
    /// client's does: the tracker checks its holders every ten seconds and forgets those that
    /// do not), over one pipelined connection, and waits until the tracker has read them all;
    /// the connection, to be closed once measured.
    func registerChunks(_ count: Int, port: Int, holderPort: Int) throws -> Int32 {
        guard let socket = LoopbackSocket.connected(port: port, readTimeout: .seconds(120)) else { throw BenchError("the tracker refused a connection") }
        var batch: [UInt8] = []
        batch.reserveCapacity(1 << 20)
        for index in 1...count {
            batch += Array("LOCAL_CHUNKS,\(index),\(String(format: "%040x", index)),127.0.0.1,\(holderPort)\n".utf8)
            if batch.count >= 1 << 20 || index == count {
                var sent = 0
                while sent < batch.count {
                    let written = batch[sent...].withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
                    guard written > 0 else {
                        close(socket)
                        throw BenchError("the tracker closed the registering connection at chunk \(index): \(String(cString: strerror(errno)))")
                    }
                    sent += written
                }
                batch.removeAll(keepingCapacity: true)
            }
        }
        // Answers come in order: this one means every registration before it was read.
        guard LoopbackSocket.exchange("WHERE_CHUNK,\(count)\n", on: socket)?.hasPrefix("GET_CHUNK_FROM,\(count),") == true else {
            close(socket)
            throw BenchError("the tracker did not take registration \(count)")
        }
        return socket
    }

    /// A fresh tracker holding `count` chunks: memory per registration, WHERE_CHUNK rate over
    /// random chunks from 50 connections.
    func classicGrowthPoint(_ count: Int, seconds: Int) throws -> GrowthPoint {
        let (tracker, port) = try startTracker()
        defer { _ = tracker.stop() }
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        let holderPort = Loopback.bindAnyPort(holder)
        listen(holder, 64)
        let idle = tracker.resident() ?? 0
        let registering = try registerChunks(count, port: port, holderPort: holderPort)
        defer { close(registering) }
        let held = tracker.resident() ?? 0
        let answers = try Loopback.roundTrips(port: port, connections: 50, seconds: seconds, chunks: count)
        return GrowthPoint(entries: count, bytesPerEntry: Double(held - idle) / Double(count), rate: Double(answers.count) / Double(seconds))
    }

    /// Announces `peers` peers spread over `torrents` torrents (peer `i` in torrent `i %
    /// torrents`) over keep-alive connections, then re-announces random ones of them with wrk:
    /// memory per peer, announces per second.
    func bitTorrentGrowthPoint(peers: Int, torrents: Int, seconds: Int) throws -> GrowthPoint {
        let (classicPort, httpPort) = (LoopbackPort.unused(), LoopbackPort.unused())
        let tracker = try spawnTool(
            binaries.appendingPathComponent("tracker").path, "tracker-growth-\(httpPort)",
            ["-port", "\(classicPort)", "-http-port", "\(httpPort)", "-stats-interval", "0"])
        defer { _ = tracker.stop() }
        try waitFor("the HTTP tracker to listen", timeout: .seconds(30)) {
            guard let descriptor = LoopbackSocket.connected(port: httpPort) else { return false }
            close(descriptor)
            return true
        }
        let idle = tracker.resident() ?? 0
        let script = """
            math.randomseed(os.time() + math.floor(os.clock() * 1000000))
            local peers, torrents = \(peers), \(torrents)
            \(Self.luaPercentEncodedNumber)
            local function announce(peer)
              return "/announce?info_hash=" .. string.rep("%6B", 16) .. hex(peer % torrents) .. "&peer_id=-GR0001-" .. string.format("%012d", peer)
                .. "&port=" .. (1024 + peer % 60000) .. "&uploaded=0&downloaded=0&left=" .. (peer % 4 == 0 and 0 or 1000) .. "&compact=1&numwant=50"
            end
            local counter = 0
            init = function(args) counter = tonumber(args[1]) or -1 end
            request = function()
              if counter >= 0 and counter < peers then
                local peer = counter
                counter = counter + 2
                return wrk.format("GET", announce(peer))
              end
              return wrk.format("GET", announce(math.random(0, peers - 1)))
            end
            """
        let folder = root.appendingPathComponent("growth")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("growth-\(peers).lua")
        try script.write(to: file, atomically: true, encoding: .utf8)
        // Filling: wrk's two threads take the even and the odd peers (init's argument), one
        // connection each, at once, until every peer has announced once.
        let fillers = try [0, 1].map { start in
            try spawnTool(
                Self.wrk, "fill-\(peers)-\(start)", ["-t1", "-c1", "-d\(2 + peers / 8_000)s", "-s", file.path, "http://127.0.0.1:\(httpPort)", "--", "\(start)"])
        }
        for filler in fillers { _ = filler.waitForExit(timeout: .seconds(600)) }
        let held = tracker.resident() ?? 0
        let measured = try runWrk(port: httpPort, script: file, connections: 50, seconds: seconds)
        let filled = String(decoding: LoopbackSocket.httpGet(port: httpPort, "/metrics") ?? [], as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("swarm_tracker_peers ") }.flatMap { Double($0.split(separator: " ").last!) } ?? 0
        guard Int(filled) >= peers else { throw BenchError("only \(Int(filled)) of \(peers) peers were registered") }
        return GrowthPoint(entries: peers, bytesPerEntry: Double(held - idle) / Double(peers), rate: measured.rate)
    }

    /// Both registries at a small size and at `size` (classic registrations; BitTorrent peers a
    /// tenth of it, in a tenth as many torrents).
    func registryGrowth(size: Int, seconds: Int) throws -> [Row] {
        let small = max(10, size / 1000)
        let (few, many) = (try classicGrowthPoint(small, seconds: seconds), try classicGrowthPoint(size, seconds: seconds))
        let name = { (count: Int) in count.formatted(.number.grouping(.automatic)) }
        var rows = [
            Row(
                scenario: "classic registry: \(name(small)) vs \(name(size)) registrations (one live holder), WHERE_CHUNK on random chunks, 50 connections",
                swarm: String(format: "%.0f answers/s at %@, %.0f bytes per registration", many.rate, name(size), many.bytesPerEntry),
                baseline: String(format: "%.0f answers/s at %@", few.rate, name(small)),
                verdict: "\(Format.ratio(many.rate / few.rate)) of the rate at \(name(small)) \(Format.target(many.rate / few.rate, atLeast: 0.5)); "
                    + String(format: "%.0f bytes per registration ", many.bytesPerEntry) + Format.target(many.bytesPerEntry, atMost: 200)
            )
        ]
        guard FileManager.default.isExecutableFile(atPath: Self.wrk) else {
            rows.append(Row(scenario: "BitTorrent registry growth", swarm: "-", baseline: "-", verdict: "not run: needs wrk (bash .ci/run installs it)"))
            return rows
        }
        let (peers, fewPeers) = (max(100, size / 10), max(10, size / 1000))
        let (low, high) = (
            try bitTorrentGrowthPoint(peers: fewPeers, torrents: max(1, fewPeers / 10), seconds: seconds),
            try bitTorrentGrowthPoint(peers: peers, torrents: max(1, peers / 10), seconds: seconds)
        )
        rows.append(
            Row(
                scenario: "BitTorrent registry: \(name(fewPeers)) peers vs \(name(peers)), ten per torrent, wrk re-announcing random peers, 50 connections",
                swarm: String(format: "%.0f announces/s at %@, %.0f bytes per peer", high.rate, name(peers), high.bytesPerEntry),
                baseline: String(format: "%.0f announces/s at %@", low.rate, name(fewPeers)),
                verdict: "\(Format.ratio(high.rate / low.rate)) of the rate at \(name(fewPeers)) \(Format.target(high.rate / low.rate, atLeast: 0.5))"
            ))
        return rows
    }
}
