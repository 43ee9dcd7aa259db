import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Magnet links against real peers: the metadata from libtorrent (only `xt` and `tr` given),
/// kept for restarts; ours to libtorrent; a peer serving another torrent's metadata refused.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct MagnetTests {
    func link(_ fixture: TorrentFixture, tracker: String) -> String {
        "magnet:?xt=urn:btih:\(fixture.infoHash)&tr=" + (tracker.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? tracker)
    }

    func startMagnetClient(_ workspace: Workspace, _ name: String, link: String, folder: String, port: Int = freePort(), extra: [String] = ["-exit-when-complete"]) throws -> TestProcess {
        try workspace.start(
            name, Paths.client,
            ["-magnet", link, "-folder", workspace.root.appendingPathComponent(folder).path, "-transfer_port", "\(port)", "-name", name, "-headless"] + extra)
    }

    @Test func metadataFromALibtorrentSeederThenTheContentByteExactAndKeptForRestarts() async throws {
        let workspace = try Workspace()
        let (fixture, tracker) = try await TorrentInteropTests.torrentWithTracker(workspace)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let ours = try startMagnetClient(workspace, "ours", link: link(fixture, tracker: tracker), folder: "ours")
        #expect(await workspace.exitStatus(of: ours) == 0, "\(ours.output)")
        #expect(ours.output.contains("fetching metadata from peers"), "\(ours.output)")
        #expect(workspace.holdsContent(fixture, in: "ours"))
        let kept = workspace.root.appendingPathComponent("ours/.swarm/\(fixture.infoHash).torrent")
        #expect(FileManager.default.fileExists(atPath: kept.path))

        // With every peer and the tracker gone, a restart still knows the torrent.
        for process in workspace.processes where process.isRunning { await process.stop(signal: SIGKILL) }
        let again = try startMagnetClient(workspace, "again", link: link(fixture, tracker: tracker), folder: "ours")
        #expect(await workspace.exitStatus(of: again) == 0, "\(again.output)")
        #expect(!again.output.contains("fetching metadata") && again.output.contains("6/6 chunks"), "\(again.output)")
        await workspace.tearDown()
    }

    @Test func libtorrentGetsTheMetadataFromOurSeeder() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace)
        let port = freePort()
        let seeder = try workspace.startTorrentClient("ours", fixture, folder: "seed", port: port, extra: [])
        await waitUntil("our client seeds") { seeder.output.contains("6/6 chunks") }
        let leecher = try workspace.start(
            "lt-magnet", TorrentTools.python,
            [TorrentTools.libtorrentPeer.path, "--magnet", "magnet:?xt=urn:btih:\(fixture.infoHash)", "--save", workspace.root.appendingPathComponent("leech").path,
             "--port", "\(freePort())", "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        await waitUntil("libtorrent completes from a bare magnet link", timeout: .seconds(60)) { leecher.output.contains("SEEDING") }
        // libtorrent says it seeds once every piece checked; its files may be written a moment later.
        await waitUntil("libtorrent's files are whole", timeout: .seconds(20)) { workspace.holdsContent(fixture, in: "leech") }
        #expect(workspace.holdsContent(fixture, in: "leech"), "\(leecher.output)")
        await workspace.tearDown()
    }

    @Test func aPeerServingAnotherTorrentsMetadataIsRefused() async throws {
        let workspace = try Workspace()
        let (fixture, tracker) = try await TorrentInteropTests.torrentWithTracker(workspace)
        let liarPort = freePort()
        let liar = try workspace.start(
            "liar", TorrentTools.python,
            [TorrentTools.badPeer.path, "wrong-metadata", "--torrent", fixture.torrent.path, "--port", "\(liarPort)", "--announce", tracker, "--timeout", "30"])
        await waitUntil("the liar announced") { liar.output.contains("LISTENING") }
        let ours = try startMagnetClient(workspace, "ours", link: link(fixture, tracker: tracker), folder: "ours", extra: [])
        await waitUntil("the wrong metadata is refused") { ours.output.contains("not the magnet link's info-hash: refused") }
        #expect(liar.output.contains("SENT"), "the liar did serve its metadata")
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("ours/.swarm/\(fixture.infoHash).torrent").path))
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("ours/other").path), "nothing of the other torrent is made")
        #expect(ours.isRunning, "still looking for honest peers")
        // An honest seeder turns up: the download completes.
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        await waitUntil("ours completes from the honest peer", timeout: .seconds(60)) { workspace.holdsContent(fixture, in: "ours") }
        await workspace.tearDown()
    }

    @Test func aBadMagnetLinkIsRefusedWithTheProblemNamed() async throws {
        let workspace = try Workspace()
        for (link, said) in [
            ("http://example.org/x.torrent", "not a magnet link"), ("magnet:?dn=x", "no xt=urn:btih"),
            ("magnet:?xt=urn:btih:1234", "is not an info-hash"), ("magnet:?xt=urn:btih:%zz", "malformed field"),
        ] {
            let client = try startMagnetClient(workspace, "bad-\(UUID().uuidString.prefix(4))", link: link, folder: "never")
            let status = await workspace.exitStatus(of: client, timeout: .seconds(20))
            #expect(status != nil && status != 0 && client.output.contains(said), "\(link): \(client.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.root.appendingPathComponent("never").path), "no folder made for a bad link")
        await workspace.tearDown()
    }
}
