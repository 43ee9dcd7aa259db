import Foundation
import Testing

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

    /// A torrent of the default files announcing to a fresh opentracker that knows it.
    static func torrentWithTracker(_ workspace: Workspace, files: [String: Int] = TorrentFixture.defaultFiles, pieceSize: Int = 256 << 10) async throws -> (TorrentFixture, String) {
        // The info-hash does not depend on the announce URL, so the tracker can whitelist it first.
        let draft = try workspace.makeTorrent(files: files, pieceSize: pieceSize, announce: "http://127.0.0.1:1/announce")
        let tracker = try await workspace.startOpentracker(infoHashes: [draft.infoHash])
        return (try workspace.makeTorrent(files: files, pieceSize: pieceSize, announce: tracker), tracker)
    }
}
