import Foundation
import Testing
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Our BitTorrent client against real peers (libtorrent, aria2) through a real tracker
/// (opentracker), all on 127.0.0.1: content byte-exact both ways.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct TorrentInteropTests {
    @Test func libtorrentSeederToOurClientByteExact() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await Self.torrentWithTracker(workspace)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "ours")
        #expect(await workspace.exitStatus(of: ours) == 0, "\(ours.output)")
        #expect(workspace.holdsContent(fixture, in: "ours"), "\(ours.output)")
        #expect(ours.output.contains("complete: all 6 chunks held"), "\(ours.output)")
        await workspace.tearDown()
    }

    @Test func ourClientSeedingToLibtorrentLeecherByteExact() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await Self.torrentWithTracker(workspace)
        let seeder = try workspace.startTorrentClient("ours", fixture, folder: "seed", extra: [])
        await waitUntil("our client has checked the content and announced") { seeder.output.contains("tracker connected") }
        #expect(seeder.output.contains("6/6 chunks"), "the content on disk was checked and found whole: \(seeder.output)")
        let leecher = try workspace.startLibtorrent("lt-leech", fixture, folder: "leech")
        await waitUntil("libtorrent completes", timeout: .seconds(60)) { leecher.output.contains("SEEDING") }
        #expect(workspace.holdsContent(fixture, in: "leech"), "\(leecher.output)")
        await workspace.tearDown()
    }

    @Test func aria2SeederToOurClientAndOurClientToAria2ByteExact() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await Self.torrentWithTracker(workspace)
        let seedPort = freePort()
        let seeder = try workspace.start(
            "aria2-seed", TorrentTools.aria2c,
            TorrentTools.aria2Flags + ["--listen-port=\(seedPort)", "--seed-ratio=0.0", "--seed-time=2", "--check-integrity=true",
                                       "-d", fixture.seedFolder.path, fixture.torrent.path])
        await waitUntil("aria2 has checked its copy and listens") { isListening(port: seedPort) }
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "ours")
        #expect(await workspace.exitStatus(of: ours) == 0, "\(ours.output)")
        #expect(workspace.holdsContent(fixture, in: "ours"), "\(ours.output)")
        await seeder.stop(signal: SIGKILL)

        // Now ours seeds to a fresh aria2.
        let ourSeeder = try workspace.startTorrentClient("ours-seed", fixture, folder: "ours", extra: [])
        await waitUntil("our seeder announced") { ourSeeder.output.contains("tracker connected") }
        let leecher = try workspace.start(
            "aria2-leech", TorrentTools.aria2c,
            TorrentTools.aria2Flags + ["--listen-port=\(freePort())", "--seed-time=0", "-d", workspace.root.appendingPathComponent("aria2").path, fixture.torrent.path])
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        #expect(workspace.holdsContent(fixture, in: "aria2"), "\(leecher.output)")
        await workspace.tearDown()
    }

    @Test func aTorrentWeMakeIsReadByLibtorrentAndDownloadedFromOurSeeder() async throws {
        let workspace = try Workspace()
        let files = ["a.bin": 200_001, "notes.txt": 1, "sub/c.dat": 70_000]
        let folder = workspace.root.appendingPathComponent("mine/album")
        var contents: [String: Data] = [:]
        for (index, (path, size)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            contents[path] = Workspace.content(of: 2000 + index, size: size)
            try contents[path]!.write(to: url)
        }
        // Our own state folder is never part of what is shared.
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".swarm"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: folder.appendingPathComponent(".swarm/leftover"))
        func make(announce: String) async throws -> Metainfo {
            let torrent = workspace.root.appendingPathComponent("made.torrent")
            let maker = try workspace.start(
                "make-\(UUID().uuidString.prefix(4))", Paths.client,
                ["-make-torrent", folder.path, "-announce", announce, "-piece-size", "64", "-o", torrent.path])
            #expect(await workspace.exitStatus(of: maker) == 0, "\(maker.output)")
            #expect(maker.output.contains("wrote \(torrent.path): 3 files"), "\(maker.output)")
            return try Metainfo(parsing: Array(try Data(contentsOf: torrent)))
        }
        let draft = try await make(announce: "http://127.0.0.1:1/announce")
        let tracker = try await workspace.startOpentracker(infoHashes: [draft.infoHash.hex])
        let made = try await make(announce: tracker)
        #expect(made.infoHash == draft.infoHash)

        // libtorrent reads it as we meant it.
        let reader = try workspace.start(
            "lt-read", TorrentTools.python,
            ["-c", "import libtorrent as lt, sys; t = lt.torrent_info(sys.argv[1]); fs = t.files(); "
                + "print(t.piece_length(), t.num_pieces(), *[f'{fs.file_path(i)}={fs.file_size(i)}' for i in range(fs.num_files())])",
             workspace.root.appendingPathComponent("made.torrent").path])
        _ = await workspace.exitStatus(of: reader)
        #expect(reader.output.trimmingCharacters(in: .whitespacesAndNewlines)
            == "65536 5 album/a.bin=200001 album/notes.txt=1 album/sub/c.dat=70000", "\(reader.output)")

        let fixture = TorrentFixture(seedFolder: workspace.root.appendingPathComponent("mine"), torrent: workspace.root.appendingPathComponent("made.torrent"), infoHash: made.infoHash.hex, files: contents)
        let seeder = try workspace.startTorrentClient("ours", fixture, folder: "mine", extra: [])
        await waitUntil("our client seeds what it made") { seeder.output.contains("tracker connected") }
        let leecher = try workspace.startLibtorrent("lt-leech", fixture, folder: "leech")
        await waitUntil("libtorrent completes from our client", timeout: .seconds(60)) { leecher.output.contains("SEEDING") }
        #expect(workspace.holdsContent(fixture, in: "leech"), "\(leecher.output)")
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("leech/album/.swarm/leftover").path))
        await workspace.tearDown()
    }

    /// A torrent of the default files announcing to a fresh opentracker that knows it.
    static func torrentWithTracker(_ workspace: Workspace, files: [String: Int] = TorrentFixture.defaultFiles, pieceSize: Int = 256 << 10) async throws -> (TorrentFixture, String) {
        // The info-hash does not depend on the announce URL, so the tracker can whitelist it first.
        let draft = try workspace.makeTorrent(files: files, pieceSize: pieceSize, announce: "http://127.0.0.1:1/announce")
        let tracker = try await workspace.startOpentracker(infoHashes: [draft.infoHash])
        return (try workspace.makeTorrent(files: files, pieceSize: pieceSize, announce: tracker), tracker)
    }
}
