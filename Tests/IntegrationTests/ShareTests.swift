import Foundation
import Testing

/// `-share FILE` makes a chunk folder of a file and says how another machine fetches it;
/// `-chunks N` makes the folder that fetches it. Bad input is refused and changes nothing.
@Suite struct ShareTests {
    /// The chunks of `folder`, in order, joined.
    static func joined(_ folder: URL, chunks: Int) throws -> Data {
        var whole = Data()
        for index in 1...chunks { whole.append(try Data(contentsOf: folder.appendingPathComponent("chunk_\(index)"))) }
        return whole
    }

    @Test func aSharedFileIsFetchedWholeByAFolderMadeWithChunks() async throws {
        let workspace = try Workspace()
        let file = workspace.root.appendingPathComponent("film.bin")
        let bytes = Workspace.content(of: 50, size: 50 << 20 + 123)
        try bytes.write(to: file)
        let (_, trackerPort) = try await workspace.startTracker()
        let sharer = try workspace.startClient("sharer", folder: "shared", trackerPort: trackerPort, extra: ["-share", file.path])
        await waitUntil("the file is shared and registered") { sharer.output.contains("tracker connected") }
        #expect(sharer.output.contains("shared \(file.path) as 13 chunks of up to 4096 KiB (52428923 bytes)"), "\(sharer.output)")
        #expect(sharer.output.contains("-folder film.bin_chunks -chunks 13 -tracker "), "the command for another machine: \(sharer.output)")
        #expect(try Self.joined(workspace.root.appendingPathComponent("shared"), chunks: 13) == bytes)
        let out = workspace.root.appendingPathComponent("film-copy.bin")
        let fetcher = try workspace.startClient(
            "fetcher", folder: "fetched/deeper", trackerPort: trackerPort, extra: ["-chunks", "13", "-assemble", out.path, "-exit-when-complete"])
        #expect(await workspace.exitStatus(of: fetcher) == 0, "\(fetcher.output)")
        #expect(try Self.joined(workspace.root.appendingPathComponent("fetched/deeper"), chunks: 13) == bytes)
        #expect(fetcher.output.contains("assembled \(out.path): 52428923 bytes"), "\(fetcher.output)")
        #expect(try Data(contentsOf: out) == bytes, "the assembled file is the shared one")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.root.path).allSatisfy { !$0.contains(".assembling-") }, "no temporary file left")
        // Sharing the same file again into its folder serves what is there.
        await sharer.stop(signal: SIGTERM)
        let again = try workspace.startClient("again", folder: "shared", trackerPort: trackerPort, extra: ["-share", file.path])
        await waitUntil("the second share serves") { again.output.contains("tracker connected") }
        #expect(again.output.contains("already holds \(file.path) as 13 chunks"), "\(again.output)")
        await workspace.tearDown()
    }

    @Test func badSharesAndChunkCountsAreRefusedAndChangeNothing() async throws {
        let workspace = try Workspace()
        let (_, trackerPort) = try await workspace.startTracker()
        func refused(_ name: String, folder: String, _ extra: [String], saying expected: String) async {
            let client = try? workspace.startClient(name, folder: folder, trackerPort: trackerPort, extra: extra)
            guard let client else {
                Issue.record("\(name) did not start")
                return
            }
            #expect(await workspace.exitStatus(of: client) == 1, "\(name): \(client.output)")
            #expect(client.output.contains(expected), "\(name): \(client.output)")
        }
        await refused("missing", folder: "never", ["-share", workspace.root.appendingPathComponent("nope.bin").path], saying: "cannot read \(workspace.root.path)/nope.bin: No such file or directory")
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("never").path), "no folder made for a missing file")
        let other = try workspace.makeFolder("other", chunks: [1: Data("one".utf8)], total: 3)
        let before = try FileManager.default.contentsOfDirectory(atPath: other.path).sorted()
        let file = workspace.root.appendingPathComponent("small.bin")
        try Data("small".utf8).write(to: file)
        await refused("other-chunks", folder: "other", ["-share", file.path], saying: "already holds other chunks (3 listed): give a new or empty folder")
        await refused("other-total", folder: "other", ["-chunks", "5"], saying: "lists 3 chunks, not 5: -chunks must match the file the folder is for")
        #expect(try FileManager.default.contentsOfDirectory(atPath: other.path).sorted() == before, "the folder is unchanged")
        let stray = workspace.root.appendingPathComponent("stray")
        try FileManager.default.createDirectory(at: stray, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: stray.appendingPathComponent("notes.txt"))
        await refused("not-empty", folder: "stray", ["-share", file.path], saying: "is not empty and has no local_chunks.txt: give a new or empty folder")
        #expect(try FileManager.default.contentsOfDirectory(atPath: stray.path) == ["notes.txt"])
        let nowhere = workspace.root.appendingPathComponent("no/such/dir/out.bin").path
        let assembler = try workspace.startClient("assemble-nowhere", folder: "later", trackerPort: trackerPort, extra: ["-chunks", "2", "-assemble", nowhere])
        #expect(await workspace.exitStatus(of: assembler) != 0)
        #expect(assembler.output.contains("-assemble \(nowhere): its folder \(workspace.root.path)/no/such/dir does not exist"), "\(assembler.output)")
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("later").path), "refused before anything was made")
        await workspace.tearDown()
    }
}
