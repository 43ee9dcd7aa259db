import Foundation
import Testing

/// The whole chunk exchange with the real `tracker` and `client` executables on loopback.
@Suite(.serialized)
struct SwarmExchangeTests {
    /// The chunks of a test file: index → bytes, some empty like the seed's `touch`ed chunks.
    static func file(chunks: Int, size: Int = 50_000) -> [Int: Data] {
        Dictionary(uniqueKeysWithValues: (1...chunks).map { ($0, $0 == chunks ? Data() : Workspace.content(of: $0, size: size + $0)) })
    }

    static func assertHolds(_ workspace: Workspace, _ folder: String, _ file: [Int: Data]) {
        #expect(workspace.listedChunks(folder) == Set(file.keys), "\(folder) lists every chunk")
        for (index, data) in file {
            #expect(workspace.chunk(index, in: folder) == data, "\(folder)/chunk_\(index) is byte-exact")
        }
    }

    @Test func seedExampleBothClientsEndWithEveryChunk() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 4)
        try workspace.makeFolder("client1_chunks", chunks: file.filter { $0.key <= 2 }, total: 4)
        try workspace.makeFolder("client2_chunks", chunks: file.filter { $0.key >= 3 }, total: 4)
        let (tracker, port) = try await workspace.startTracker()
        let client1 = try workspace.startClient("client1", folder: "client1_chunks", trackerPort: port)
        let client2 = try workspace.startClient("client2", folder: "client2_chunks", trackerPort: port)

        await waitUntil("both clients say complete") {
            client1.output.contains("complete: all 4 chunks held") && client2.output.contains("complete: all 4 chunks held")
        }
        // Complete means listed on disk: the list is rewritten before it is said.
        Self.assertHolds(workspace, "client1_chunks", file)
        Self.assertHolds(workspace, "client2_chunks", file)
        #expect(await client1.stop() == 0, "SIGTERM stops the client cleanly")
        #expect(await client2.stop() == 0)
        #expect(await tracker.stop(signal: SIGINT) == 0, "SIGINT stops the tracker cleanly")
        let log = workspace.log
        #expect(log.contains("client1,WHERE_CHUNK,3"))
        #expect(log.contains("P2PTracker,GET_CHUNK_FROM,3,"))
        #expect(log.split(separator: "\n").allSatisfy { $0.contains(",") }, "every logger.log line is name,message")
        await workspace.tearDown()
    }

    @Test func chunkHeldOnlyByTheLastPeerReachesEveryone() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 6)
        try workspace.makeFolder("a", chunks: file.filter { $0.key <= 3 }, total: 6)
        try workspace.makeFolder("b", chunks: file.filter { (2...5).contains($0.key) && $0.key != 5 }, total: 6)
        try workspace.makeFolder("c", chunks: file.filter { $0.key == 5 || $0.key == 6 }, total: 6)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("a", folder: "a", trackerPort: port)
        try workspace.startClient("b", folder: "b", trackerPort: port)
        try workspace.startClient("c", folder: "c", trackerPort: port)
        await waitUntil("three peers complete") {
            ["a", "b", "c"].allSatisfy { workspace.listedChunks($0).count == 6 }
        }
        for folder in ["a", "b", "c"] { Self.assertHolds(workspace, folder, file) }
        await workspace.tearDown()
    }

    @Test func exitWhenCompleteExitsZeroAndKeepsTheListLast() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 3)
        let leecher = try await workspace.startSeederAndLeecher(file, leecherArguments: ["-exit-when-complete"])
        await waitUntil("the leecher exits") { !leecher.isRunning }
        #expect(leecher.process.terminationStatus == 0)
        Self.assertHolds(workspace, "leecher", file)
        let list = try String(contentsOf: workspace.root.appendingPathComponent("leecher/local_chunks.txt"), encoding: .utf8)
        #expect(list == "1,chunk_1\n2,chunk_2\n3,chunk_3\n3,LASTCHUNK\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.root.appendingPathComponent("leecher").path)
        #expect(Set(leftovers) == ["chunk_1", "chunk_2", "chunk_3", "local_chunks.txt"], "no temporary file is left")
        await workspace.tearDown()
    }

    @Test func lyingPeerIsAvoidedAndTheRightBytesComeFromElsewhere() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 2)
        try workspace.makeFolder("liar", chunks: file, total: 2)
        try workspace.makeFolder("honest", chunks: file, total: 2)
        try workspace.makeFolder("leecher", chunks: [:], total: 2)
        let (_, port) = try await workspace.startTracker()
        try workspace.startSeedPeer("liar", folder: "liar", trackerPort: port, corrupt: true)
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port)
        await waitUntil("the leecher notices bad bytes") { leecher.output.contains("expected") }
        #expect(workspace.listedChunks("leecher").isEmpty, "nothing from the liar is kept")
        try workspace.startClient("honest", folder: "honest", trackerPort: port)
        await waitUntil("the leecher completes from the honest peer") { workspace.listedChunks("leecher").count == 2 }
        Self.assertHolds(workspace, "leecher", file)
        await workspace.tearDown()
    }

    @Test func endgameFetchesTheLastChunkFromASecondHolderAndDropsTheSlowCopy() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 4, size: 1_048_576)
        try workspace.makeFolder("slow", chunks: file.filter { $0.key == 1 }, total: 4)
        try workspace.makeFolder("fast", chunks: file, total: 4)
        try workspace.makeFolder("leecher", chunks: [:], total: 4)
        let (_, port) = try await workspace.startTracker()
        // 4 KiB/s: chunk 1 (1 MiB) would take over four minutes from this peer, yet it never stalls.
        try workspace.startClient("slow", folder: "slow", trackerPort: port, extra: ["-upload-limit", "4"])
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port)
        await waitUntil("chunk 1 is requested from its only holder") { leecher.output.contains("requested chunk 1 from") }
        try workspace.startClient("fast", folder: "fast", trackerPort: port)
        await waitUntil("the download completes long before the slow copy could", timeout: .seconds(60)) {
            workspace.listedChunks("leecher").count == 4
        }
        let dropped = await waitUntil("the slow copy is dropped") { leecher.output.contains("dropped, another copy arrived first") }
        if !dropped { Issue.record("leecher said: \(leecher.output)") }
        Self.assertHolds(workspace, "leecher", file)
        // A losing copy still arriving is cancelled and its partial file removed.
        let folder = workspace.root.appendingPathComponent("leecher").path
        await waitUntil("no partial file is left") {
            Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                == ["chunk_1", "chunk_2", "chunk_3", "chunk_4", "local_chunks.txt"]
        }
        await workspace.tearDown()
    }

    @Test func onePeerServesAtMostTheFetchesPerPeerAllowed() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 6)
        try workspace.makeFolder("seeder", chunks: file, total: 6)
        try workspace.makeFolder("leecher", chunks: [:], total: 6)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-max-fetches-per-peer", "1"])
        await waitUntil("the leecher reports six chunks fetched") {
            leecher.output.split(separator: "\n").count { $0.contains("] fetched chunk ") } == 6
        }
        Self.assertHolds(workspace, "leecher", file)
        // With one fetch at a time from the only holder, every request waits for the previous chunk.
        let steps = leecher.output.split(separator: "\n").compactMap { line -> String? in
            if line.contains("] requested chunk ") { return "requested" }
            if line.contains("] fetched chunk ") { return "fetched" }
            return nil
        }
        #expect(steps == Array(repeating: ["requested", "fetched"], count: 6).flatMap { $0 }, "\(leecher.output)")
        await workspace.tearDown()
    }

    @Test func trackerStartedFiveSecondsLateIsWaitedFor() async throws {
        let workspace = try Workspace()
        let file = Self.file(chunks: 4)
        try workspace.makeFolder("client1", chunks: file.filter { $0.key <= 2 }, total: 4)
        try workspace.makeFolder("client2", chunks: file.filter { $0.key >= 3 }, total: 4)
        let port = freePort()
        let started = ContinuousClock.now
        let client1 = try workspace.startClient("client1", folder: "client1", trackerPort: port)
        let client2 = try workspace.startClient("client2", folder: "client2", trackerPort: port)
        await waitUntil("both clients retry the tracker") {
            client1.output.contains("tracker retrying") && client2.output.contains("tracker retrying")
        }
        let retry = client1.output.split(separator: "\n").first { $0.contains("tracker retrying in") }
        #expect(retry?.hasSuffix(" s (connection refused)") == true, "says why, plainly: \(client1.output)")
        // The scenario is a tracker that comes up five seconds after its clients.
        try await Task.sleep(until: started + .seconds(5))
        #expect(client1.isRunning && client2.isRunning, "clients do not exit while the tracker is down")
        try workspace.start("tracker", Paths.tracker, ["-port", "\(port)"])
        await waitUntil("both complete") {
            workspace.listedChunks("client1").count == 4 && workspace.listedChunks("client2").count == 4
        }
        Self.assertHolds(workspace, "client1", file)
        Self.assertHolds(workspace, "client2", file)
        await workspace.tearDown()
    }
}
