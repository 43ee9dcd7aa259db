import Foundation
import Testing

/// Swarm with peers and trackers written the seed-era way (`Seed/*.py`): one recv per message,
/// no strip, no terminators, `localhost` holders, a quorum of 2.
@Suite(.serialized)
struct SeedInteropTests {
    @Test func ourTrackerServesSeedEraPeers() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 4)
        try workspace.makeFolder("p1", chunks: file.filter { $0.key <= 2 }, total: 4)
        try workspace.makeFolder("p2", chunks: file.filter { $0.key >= 3 }, total: 4)
        let (_, port) = try await workspace.startTracker()
        try workspace.startSeedPeer("p1", folder: "p1", trackerPort: port)
        try workspace.startSeedPeer("p2", folder: "p2", trackerPort: port)
        await waitUntil("both seed peers complete") {
            workspace.listedChunks("p1").count == 4 && workspace.listedChunks("p2").count == 4
        }
        SwarmExchangeTests.assertHolds(workspace, "p1", file)
        SwarmExchangeTests.assertHolds(workspace, "p2", file)
        await workspace.tearDown()
    }

    @Test func ourClientWorksWithASeedEraTrackerWithQuorumTwo() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 3)
        try workspace.makeFolder("s1", chunks: file, total: 3)
        try workspace.makeFolder("s2", chunks: file, total: 3)
        try workspace.makeFolder("ours", chunks: [:], total: 3)
        let port = freePort()
        try workspace.start(
            "seed-tracker",
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Paths.seedTracker.path, "-port", "\(port)", "-quorum", "2"]
        )
        await waitUntil("seed tracker listening") { isListening(port: port) }
        let ours = try workspace.startClient("ours", folder: "ours", trackerPort: port)
        await waitUntil("our client sees the seed-era tracker") { ours.output.contains("seed-era tracker") }
        try workspace.startSeedPeer("s1", folder: "s1", trackerPort: port)
        try workspace.startSeedPeer("s2", folder: "s2", trackerPort: port)
        await waitUntil("our client completes", timeout: .seconds(60)) { workspace.listedChunks("ours").count == 3 }
        SwarmExchangeTests.assertHolds(workspace, "ours", file)
        // One message per recv: every line the seed tracker logged is exactly one message.
        let trackerLines = workspace.log.split(separator: "\n").filter { $0.hasPrefix("SeedTracker,") }
        #expect(!trackerLines.isEmpty)
        for line in trackerLines {
            let message = line.dropFirst("SeedTracker,".count)
            let verbs = ["LOCAL_CHUNKS", "WHERE_CHUNK"].map { message.components(separatedBy: $0).count - 1 }.reduce(0, +)
            #expect(verbs == 1, "seed tracker read exactly one message: \(message)")
            #expect(!message.contains("\n"))
        }
        await workspace.tearDown()
    }

    @Test func mixedSwarmOfSeedEraAndSwarmPeers() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 6)
        try workspace.makeFolder("seedpeer", chunks: file.filter { $0.key <= 3 }, total: 6)
        try workspace.makeFolder("ours", chunks: file.filter { $0.key > 3 }, total: 6)
        let (_, port) = try await workspace.startTracker()
        try workspace.startSeedPeer("seedpeer", folder: "seedpeer", trackerPort: port)
        try workspace.startClient("ours", folder: "ours", trackerPort: port)
        await waitUntil("both complete") {
            workspace.listedChunks("seedpeer").count == 6 && workspace.listedChunks("ours").count == 6
        }
        SwarmExchangeTests.assertHolds(workspace, "seedpeer", file)
        SwarmExchangeTests.assertHolds(workspace, "ours", file)
        // The seed peer opens "chunk_" + the field as received: our requests carry exactly their bytes.
        let received = workspace.log.split(separator: "\n").filter { $0.hasPrefix("seedpeer,REQUEST_CHUNK,") }
        #expect(!received.isEmpty, "our client fetched from the seed-era peer")
        for line in received {
            let index = line.dropFirst("seedpeer,REQUEST_CHUNK,".count)
            #expect(index.allSatisfy { $0.isNumber }, "exact request: \(line)")
        }
        await workspace.tearDown()
    }
}
