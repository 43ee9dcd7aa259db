import Foundation
import Testing

/// A broken folder is refused at start-up, with a message naming file, line and problem, and
/// nothing is written or sent.
@Suite struct FolderRefusalTests {
    static let cases: [(name: String, list: String?, files: [String], expected: String)] = [
        ("no list", nil, [], "local_chunks.txt: missing"),
        ("no total", "1,chunk_1\n", ["chunk_1"], "no \"N,LASTCHUNK\" line"),
        ("bad index", "x,chunk_1\n2,LASTCHUNK\n", ["chunk_1"], "local_chunks.txt:1: chunk index \"x\" is not a number"),
        ("duplicate", "1,chunk_1\n1,chunk_1\n2,LASTCHUNK\n", ["chunk_1"], "local_chunks.txt:2: chunk 1 is listed twice"),
        ("missing file", "1,chunk_1\n2,LASTCHUNK\n", [], "local_chunks.txt:1: listed chunk file \"chunk_1\" does not exist"),
        ("escape", "1,../secret\n2,LASTCHUNK\n", [], "local_chunks.txt:1: file name \"../secret\" leads outside the folder"),
        ("above total", "3,chunk_1\n2,LASTCHUNK\n", ["chunk_1"], "local_chunks.txt:1: chunk index 3 is above the total of 2"),
    ]

    @Test(arguments: cases.indices)
    func brokenFolderIsRefused(_ position: Int) async throws {
        let (name, list, files, expected) = Self.cases[position]
        let workspace = try Workspace()
        let folder = workspace.root.appendingPathComponent("folder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let list { try list.write(to: folder.appendingPathComponent("local_chunks.txt"), atomically: true, encoding: .utf8) }
        for file in files { try Data("x".utf8).write(to: folder.appendingPathComponent(file)) }
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let client = try workspace.startClient("c", folder: "folder", trackerPort: freePort())
        await waitUntil("the client exits (\(name))") { !client.isRunning }
        #expect(client.process.terminationStatus != 0, "\(name): non-zero exit")
        #expect(client.output.contains(expected), "\(name): says \"\(expected)\", got: \(client.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == before, "\(name): folder untouched")
        await workspace.tearDown()
    }

    /// A second client on a folder in use is refused, naming the first, and touches nothing:
    /// the first keeps the chunk it was receiving.
    @Test func folderInUseByAnotherClientIsRefused() async throws {
        let workspace = try Workspace()
        let first = try await workspace.startLeecherMidTransfer()
        let folder = workspace.root.appendingPathComponent("leecher").path
        let second = try workspace.startClient("second", folder: "leecher", trackerPort: freePort())
        await waitUntil("the second client exits") { !second.isRunning }
        #expect(second.process.terminationStatus != 0, "non-zero exit")
        let expected = "\(folder): in use by another client (process \(first.process.processIdentifier))"
        #expect(second.output.contains(expected), "says \"\(expected)\", got: \(second.output)")
        // Had the second removed the first's partial file, keeping that chunk would fail.
        await waitUntil("the first keeps the chunk it was receiving") { !ReliabilityTests.fetched(in: first.output).isEmpty }
        #expect(!first.output.contains("cannot save"), "the first's download was left alone: \(first.output)")
        #expect(await first.stop() == 0)
        await workspace.tearDown()
    }

    /// A transfer port taken by another program is named, with the cure, and exit 1 (a client
    /// without `-advertise` listens on every address).
    @Test func transferPortInUseIsSaidPlainly() async throws {
        let workspace = try Workspace()
        try workspace.makeFolder("ok", chunks: [1: Data()], total: 1)
        let (_, taken) = try await workspace.startTracker()
        let client = try workspace.start(
            "c", Paths.client, ["-folder", workspace.root.appendingPathComponent("ok").path, "-transfer_port", "\(taken)", "-name", "c", "-headless"])
        await waitUntil("the client exits") { !client.isRunning }
        #expect(client.process.terminationStatus == 1)
        let expected = "Error: cannot listen on port \(taken) of every address: the port is in use (a tracker or client still running?); pick another with -transfer_port"
        #expect(client.output.contains(expected), "got: \(client.output)")
        await workspace.tearDown()
    }

    @Test func missingFolderAndBadPortAreRefused() async throws {
        let workspace = try Workspace()
        let missing = try workspace.startClient("m", folder: "nowhere", trackerPort: freePort())
        await waitUntil("exit") { !missing.isRunning }
        #expect(missing.process.terminationStatus != 0)
        #expect(missing.output.contains("nowhere: no such folder"))

        try workspace.makeFolder("ok", chunks: [1: Data()], total: 1)
        let badPort = try workspace.start(
            "p", Paths.client, ["-folder", workspace.root.appendingPathComponent("ok").path, "-transfer_port", "70000", "-name", "p"])
        await waitUntil("exit") { !badPort.isRunning }
        #expect(badPort.process.terminationStatus != 0)
        #expect(badPort.output.contains("-transfer_port 70000 is not a TCP port"))
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("logger.log").path),
                "nothing written before the checks pass")
        await workspace.tearDown()
    }

    @Test(arguments: [
        ("-max-fetches", "0", "-max-fetches must be at least 1"),
        ("-max-bad-chunks", "0", "-max-bad-chunks must be at least 1"),
        ("-upload-limit", "0", "-upload-limit must be at least 1 KiB/s"),
    ])
    func badFlagValueIsRefusedByName(_ flag: String, _ value: String, _ expected: String) async throws {
        let workspace = try Workspace()
        try workspace.makeFolder("ok", chunks: [1: Data()], total: 1)
        let client = try workspace.startClient("c", folder: "ok", trackerPort: freePort(), extra: [flag, value])
        await waitUntil("the client exits") { !client.isRunning }
        #expect(client.process.terminationStatus != 0)
        #expect(client.output.contains(expected), "got: \(client.output)")
        await workspace.tearDown()
    }
}
