import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults caused for real: killed processes, lying peers, dead holders.
@Suite(.serialized)
struct ReliabilityTests {
    /// Sends one `\n`-terminated message to our tracker and returns its one-line answer.
    func ask(trackerPort port: Int, _ message: String) -> String? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array((message + "\n").utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { return nil }
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !answer.contains(UInt8(ascii: "\n")) {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func trackerKilledAndRestartedOnTheSamePortIsRejoined() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 12, size: 64 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 12)
        try workspace.makeFolder("leecher", chunks: [:], total: 12)
        let (tracker, port) = try await workspace.startTracker()
        let seeder = try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-download-limit", "128"])
        await waitUntil("the leecher has some chunks") { !workspace.listedChunks("leecher").isEmpty }
        await tracker.stop(signal: SIGKILL)
        await waitUntil("both clients notice") { seeder.output.contains("tracker retrying") && leecher.output.contains("tracker retrying") }
        #expect(workspace.listedChunks("leecher").count < 12, "the download was not over when the tracker died")
        try workspace.start("tracker-again", Paths.tracker, ["-port", "\(port)"])
        await waitUntil("the leecher completes through the new tracker", timeout: .seconds(60)) {
            workspace.listedChunks("leecher").count == 12
        }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM,1,") == true, "the seeder registered again")
        await workspace.tearDown()
    }

    @Test func clientKilledTwentyTimesNeverListsABadChunkAndFinishes() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 30, size: 48 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 30)
        try workspace.makeFolder("victim", chunks: [:], total: 30)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let folder = workspace.root.appendingPathComponent("victim")
        var generator = SystemRandomNumberGenerator()
        var interrupted = 0
        for round in 1...20 {
            let victim = try workspace.startClient("victim-\(round)", folder: "victim", trackerPort: port, extra: ["-download-limit", "400"])
            await waitUntil("round \(round) starts") { victim.output.contains("chunks in") || !victim.isRunning }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...250, using: &generator)))
            await victim.stop(signal: SIGKILL)
            if workspace.listedChunks("victim").count < 30 { interrupted += 1 }
            // The folder must pass the start-up checks and list only byte-exact chunks.
            let text = try String(contentsOf: folder.appendingPathComponent("local_chunks.txt"), encoding: .utf8)
            #expect(text.hasSuffix("30,LASTCHUNK\n"), "round \(round): the list is whole")
            for index in workspace.listedChunks("victim") {
                #expect(workspace.chunk(index, in: "victim") == file[index], "round \(round): chunk \(index) is exact")
            }
        }
        #expect(interrupted >= 5, "the kills really interrupted downloads (\(interrupted) of 20 rounds)")
        let last = try workspace.startClient("victim-final", folder: "victim", trackerPort: port, extra: ["-exit-when-complete"])
        await waitUntil("the final run completes", timeout: .seconds(60)) { !last.isRunning }
        #expect(last.process.terminationStatus == 0)
        SwarmExchangeTests.assertHolds(workspace, "victim", file)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(names.filter { $0.hasPrefix(".") || $0.contains("tmp") }.isEmpty, "no temporary file is left: \(names)")
        await workspace.tearDown()
    }

    @Test func lyingPeerIsBannedAfterThreeBadChunks() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 6)
        try workspace.makeFolder("liar", chunks: file, total: 6)
        try workspace.makeFolder("honest", chunks: file, total: 6)
        try workspace.makeFolder("leecher", chunks: [:], total: 6)
        let (_, port) = try await workspace.startTracker()
        try workspace.startSeedPeer("liar", folder: "liar", trackerPort: port, corrupt: true)
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-max-bad-chunks", "3"])
        await waitUntil("the liar is banned") { leecher.output.contains("not using localhost:") }
        await waitUntil("fetches already under way at the ban end") {
            leecher.output.split(separator: "\n").filter { $0.contains("requested") }.count
                == leecher.output.split(separator: "\n").filter { $0.contains("expected") || $0.contains("fetched") }.count
        }
        let badLines = leecher.output.split(separator: "\n").filter { $0.contains("expected") }
        // The third bad chunk bans the peer; fetches already running with it (4 at most) may still fail.
        #expect((3...6).contains(badLines.count), "\(badLines.count) bad chunks")
        #expect(workspace.listedChunks("leecher").isEmpty)
        try workspace.startClient("honest", folder: "honest", trackerPort: port)
        await waitUntil("complete from the honest peer") { workspace.listedChunks("leecher").count == 6 }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        let output = leecher.output
        let ban = try #require(output.range(of: "not using localhost:"))
        let afterBan = output[ban.upperBound...].split(separator: "\n")
        #expect(!afterBan.contains { $0.contains("requested") && $0.contains("localhost") }, "the banned peer is not asked again")
        await workspace.tearDown()
    }

    @Test func trackerForgetsHoldersThatStopServingButKeepsSeedEraPeers() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 2)
        try workspace.makeFolder("dies", chunks: [1: file[1]!], total: 2)
        try workspace.makeFolder("seedera", chunks: [2: file[2]!], total: 2)
        let (_, port) = try await workspace.startTracker(arguments: ["-check-interval", "0.3", "-grace", "1"])
        let dying = try workspace.startClient("dies", folder: "dies", trackerPort: port)
        try workspace.startSeedPeer("seedera", folder: "seedera", trackerPort: port)
        await waitUntil("both registered") {
            ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM") == true
                && ask(trackerPort: port, "WHERE_CHUNK,2")?.hasPrefix("GET_CHUNK_FROM") == true
        }
        await dying.stop(signal: SIGKILL)
        await waitUntil("the dead holder is forgotten") { ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1" }
        // The seed-era peer closed its tracker connection long ago but still serves: kept.
        #expect(ask(trackerPort: port, "WHERE_CHUNK,2")?.hasPrefix("GET_CHUNK_FROM,2,") == true)
        await workspace.tearDown()
    }
}
