import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults caused for real: killed processes, lying peers, dead holders.
@Suite(.serialized)
struct ReliabilityTests {
    @Test func trackerKilledAndRestartedOnTheSamePortIsRejoined() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 12, size: 64 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 12)
        try workspace.makeFolder("leecher", chunks: [:], total: 12)
        let (tracker, port) = try await workspace.startTracker()
        let seeder = try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        // 64 KiB/s: about 12 s for the whole file, so the tracker dies mid-download.
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-download-limit", "64"])
        await waitUntil("the leecher has some chunks") { !workspace.listedChunks("leecher").isEmpty }
        await tracker.stop(signal: SIGKILL)
        await waitUntil("both clients notice") { seeder.output.contains("tracker retrying") && leecher.output.contains("tracker retrying") }
        #expect(workspace.listedChunks("leecher").count < 12, "the download was not over when the tracker died")
        try workspace.start("tracker-again", Paths.tracker, ["-port", "\(port)"])
        await waitUntil("the leecher completes through the new tracker", timeout: .seconds(60)) {
            workspace.listedChunks("leecher").count == 12
        }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        await waitUntil("the seeder registered again") { ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM,1,") == true }
        await workspace.tearDown()
    }

    /// The list is rewritten a little after each commit; a client stopped by SIGTERM right after
    /// fetching a chunk still lists every chunk it fetched, and only those.
    @Test func clientStoppedRightAfterAFetchListsEveryChunkItFetched() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 30, size: 48 * 1024)
        // 400 KiB/s: a chunk about every 120 ms, so the stop lands just after a commit.
        let leecher = try await workspace.startSeederAndLeecher(file, leecherArguments: ["-download-limit", "400"])
        await waitUntil("a few chunks are fetched") { Self.fetched(in: leecher.output).count >= 3 }
        #expect(await leecher.stop() == 0, "SIGTERM stops the client cleanly")
        let fetched = Self.fetched(in: leecher.output)
        #expect(fetched.count < 30, "stopped mid-download")
        #expect(workspace.listedChunks("leecher") == fetched)
        for index in fetched {
            #expect(workspace.chunk(index, in: "leecher") == file[index], "chunk \(index) is exact")
        }
        await workspace.tearDown()
    }

    /// A client stopped mid-transfer leaves no partial file behind: the fetches under way end,
    /// their files removed, before it exits.
    @Test func clientStoppedMidTransferLeavesNoPartialFile() async throws {
        let workspace = try Workspace()
        let leecher = try await workspace.startLeecherMidTransfer()
        #expect(await leecher.stop() == 0, "SIGTERM stops the client cleanly")
        #expect(workspace.partialFiles(in: "leecher") == [], "every partial file is removed before the client exits")
        await workspace.tearDown()
    }

    /// A list that cannot be rewritten (here a directory has taken its place) is reported, the
    /// download goes on, and the list is written once it can be.
    @Test func unwritableListIsReportedAndWrittenOnceItCanBe() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 8, size: 32 * 1024)
        // 64 KiB/s: the list is replaced well before the download ends.
        let leecher = try await workspace.startSeederAndLeecher(file, leecherArguments: ["-download-limit", "64"])
        await waitUntil("the leecher has read its folder") { leecher.output.contains("chunks in") }
        let list = workspace.root.appendingPathComponent("leecher/local_chunks.txt")
        try FileManager.default.removeItem(at: list)
        try FileManager.default.createDirectory(at: list.appendingPathComponent("blocker"), withIntermediateDirectories: true)
        await waitUntil("the failed rewrite is reported") { leecher.output.contains("cannot list new chunks in local_chunks.txt") }
        #expect(leecher.isRunning, "the download goes on")
        try FileManager.default.removeItem(at: list)
        await waitUntil("the list is written once it can be", timeout: .seconds(60)) { workspace.listedChunks("leecher").count == 8 }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        await workspace.tearDown()
    }

    /// The chunks a client's output says it fetched.
    static func fetched(in output: String) -> Set<Int> {
        Set(output.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "] fetched chunk ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        })
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
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-max-bad-chunks", "3", "-max-fetches", "4"])
        await waitUntil("the liar is banned") { leecher.output.contains("not using localhost:") }
        await waitUntil("fetches already under way at the ban end") {
            leecher.output.split(separator: "\n").filter { $0.contains("requested") }.count
                == leecher.output.split(separator: "\n").filter { $0.contains("expected") || $0.contains("fetched") }.count
        }
        let badLines = leecher.output.split(separator: "\n").filter { $0.contains("expected") }
        // The third bad chunk bans the peer; fetches already running with it (-max-fetches 4) may still fail.
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
