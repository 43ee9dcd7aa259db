import Foundation
import Testing

/// Choosing what to fetch of a torrent: skipping a file in the files pane, and fetching in order.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct TorrentFilesTests {
    /// Three files of four whole pieces each, so no piece is shared between two of them.
    static let files = ["a.bin": 64 << 10, "b.bin": 64 << 10, "c.bin": 64 << 10]

    @Test func aFileSkippedInTheFilesPaneIsNeitherFetchedNorMadeWhileTheOthersComplete() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace, files: Self.files, pieceSize: 16 << 10)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let tmux = try Tmux(width: 100, height: 30, directory: workspace.root)
        defer { tmux.kill() }
        let command = "\(Paths.client.path) -torrent \(fixture.torrent.path) -folder ours -transfer_port \(freePort()) -name tui -paused -exit-when-complete; echo TUI_EXIT=$?"
        try tmux.send(command, "Enter")
        await waitUntil("the UI shows the files") { tmux.screen().joined().contains("0/12 chunks") }
        try tmux.send("Tab")
        try tmux.send("Tab")
        await waitUntil("the files pane has focus") { tmux.screen().joined().contains("Files 1 of 3") }
        try tmux.send("Down")
        try tmux.send("s")
        await waitUntil("b.bin is skipped") { tmux.screen().joined().contains("album/b.bin: skipped") }
        try tmux.send("p")
        await waitUntil("the client finishes what is wanted and exits 0", timeout: .seconds(60)) { tmux.screen().contains("TUI_EXIT=0") }
        let album = workspace.root.appendingPathComponent("ours/album")
        #expect((try? Data(contentsOf: album.appendingPathComponent("a.bin"))) == fixture.files["a.bin"])
        #expect((try? Data(contentsOf: album.appendingPathComponent("c.bin"))) == fixture.files["c.bin"])
        #expect(!FileManager.default.fileExists(atPath: album.appendingPathComponent("b.bin").path), "a skipped file is not made")
        await workspace.tearDown()
    }

    @Test func sequentialModeAsksForPiecesInOrder() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace, files: ["movie.mkv": 48 << 14], pieceSize: 16 << 10)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "ours", extra: ["-exit-when-complete", "-sequential"])
        #expect(await workspace.exitStatus(of: ours) == 0, "\(ours.output)")
        let asked = ours.output.split(separator: "\n").compactMap { line -> Int? in
            guard line.contains("requested chunk") else { return nil }
            return line.split(separator: "chunk ").last?.split(separator: " ").first.flatMap { Int($0) }
        }
        #expect(asked == Array(1...48), "every piece asked for once, in order: \(asked)")
        #expect(workspace.holdsContent(fixture, in: "ours"))
        await workspace.tearDown()
    }
}
