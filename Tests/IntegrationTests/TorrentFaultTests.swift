import Foundation
import SwarmTorrent
import Testing
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Faults for real against our BitTorrent client: hostile peers, a peer sending corrupt
/// blocks, a client killed mid-download, torrents that cannot be used.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct TorrentFaultTests {
    /// Each case of `bt_peer.py attack` and what our client's log says of it.
    static let attacks: [(String, String)] = [
        ("wrong-info-hash", "handshake for another torrent"),
        ("too-long", "over the"),
        ("bitfield-wrong-size", "bitfield of"),
        ("bitfield-spare-bits", "spare bits"),
        ("request-past-end", "past the last"),
        ("request-too-long", "at most 128 KiB"),
        ("request-over-piece-end", "past the end of the piece"),
        ("have-flood", "a flood of have messages"),
        ("unrequested-piece", "never requested"),
        ("garbage", "closed 127.0.0.1:"),
    ]

    func attack(_ workspace: Workspace, _ fixture: TorrentFixture, _ name: String, port: Int, piece: Int = 0) async throws -> TestProcess {
        let attacker = try workspace.start(
            "attack-\(name)", TorrentTools.python,
            [TorrentTools.badPeer.path, "attack", name, "--torrent", fixture.torrent.path, "--target-port", "\(port)", "--piece", "\(piece)"])
        _ = await workspace.exitStatus(of: attacker, timeout: .seconds(20))
        return attacker
    }

    @Test func hostilePeersAreClosedOneByOneAndTheClientStillServesLibtorrent() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace)
        let port = freePort()
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "seed", port: port, extra: [])
        await waitUntil("our client seeds") { ours.output.contains("tracker connected") }
        for (name, said) in Self.attacks {
            let attacker = try await attack(workspace, fixture, name, port: port)
            #expect(attacker.output.contains("CLOSED"), "\(name): \(attacker.output)")
            await waitUntil("the client says why it closed \(name)") { ours.output.contains(said) }
            #expect(ours.isRunning, "\(name) stopped the client: \(ours.output)")
        }
        #expect(workspace.holdsContent(fixture, in: "seed"), "no byte of the content changed")
        let leecher = try workspace.startLibtorrent("lt-leech", fixture, folder: "leech")
        await waitUntil("libtorrent still completes from our client", timeout: .seconds(60)) { leecher.output.contains("SEEDING") }
        #expect(workspace.holdsContent(fixture, in: "leech"))
        await workspace.tearDown()
    }

    @Test func aRequestForAPieceNotHeldClosesThatConnectionOnly() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace)
        // A copy whose last file is damaged: the two pieces over it are not held.
        let partial = workspace.root.appendingPathComponent("partial")
        try FileManager.default.copyItem(at: fixture.seedFolder, to: partial)
        try Data(repeating: 0, count: 70_000).write(to: partial.appendingPathComponent("album/sub/deeper/d"))
        let port = freePort()
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "partial", port: port, extra: ["-paused"])
        await waitUntil("our client checked its copy") { ours.output.contains("serving on") }
        #expect(ours.output.contains("4/6 chunks") && ours.output.contains("checked 6 pieces already on disk: 4 good"), "\(ours.output)")
        let attacker = try await attack(workspace, fixture, "request-not-held", port: port, piece: 5)
        #expect(attacker.output.contains("CLOSED"), "\(attacker.output)")
        await waitUntil("the client says why") { ours.output.contains("which we do not have") }
        #expect(ours.isRunning)
        await workspace.tearDown()
    }

    @Test func aPeerSendingCorruptBlocksIsBannedAndTheContentStillCompletes() async throws {
        let workspace = try Workspace()
        let (fixture, tracker) = try await TorrentInteropTests.torrentWithTracker(workspace, files: ["big": 48 << 14], pieceSize: 16 << 10)
        let badPort = freePort()
        let liar = try workspace.start(
            "liar", TorrentTools.python,
            [TorrentTools.badPeer.path, "corrupt", "--torrent", fixture.torrent.path, "--port", "\(badPort)", "--announce", tracker, "--timeout", "90"])
        await waitUntil("the liar announced") { liar.output.contains("LISTENING") }
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "ours")
        #expect(await workspace.exitStatus(of: ours, timeout: .seconds(90)) == 0, "\(ours.output)")
        #expect(ours.output.contains("not using 127.0.0.1:\(badPort) again: 3 bad chunks"), "\(ours.output)")
        #expect(ours.output.contains("failed its SHA-1 check"))
        #expect(workspace.holdsContent(fixture, in: "ours"))
        await workspace.tearDown()
    }

    @Test func aClientKilledMidDownloadListsOnlyVerifiedPiecesAndResumes() async throws {
        let workspace = try Workspace()
        let (fixture, _) = try await TorrentInteropTests.torrentWithTracker(workspace, files: ["big": 4 << 20], pieceSize: 64 << 10)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let first = try workspace.startTorrentClient("first", fixture, folder: "ours", extra: ["-download-limit", "256"])
        let metainfo = try Metainfo(parsing: Array(try Data(contentsOf: fixture.torrent)))
        let resumePath = ResumeData.path(for: metainfo.infoHash, in: workspace.root.appendingPathComponent("ours").path)
        func resume() -> ResumeData? {
            (try? Data(contentsOf: URL(fileURLWithPath: resumePath))).flatMap { ResumeData(bytes: Array($0), infoHash: metainfo.infoHash, pieceCount: metainfo.pieceCount) }
        }
        await waitUntil("some pieces are recorded as verified", timeout: .seconds(40)) { (resume()?.pieces.heldCount ?? 0) >= 8 }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let record = try #require(resume())
        #expect(record.pieces.heldCount < metainfo.pieceCount, "killed before the end")
        let onDisk = try Data(contentsOf: workspace.root.appendingPathComponent("ours/album/big"))
        let whole = fixture.files["big"]!
        for piece in record.pieces.heldPieces {
            let range = piece * (64 << 10)..<(piece + 1) * (64 << 10)
            #expect(onDisk[range] == whole[range], "piece \(piece) is recorded as verified and must be right")
        }

        let second = try workspace.startTorrentClient("second", fixture, folder: "ours")
        #expect(await workspace.exitStatus(of: second) == 0, "\(second.output)")
        #expect(workspace.holdsContent(fixture, in: "ours"))
        let refetched = second.output.split(separator: "\n").filter { $0.contains("fetched chunk") }.count
        #expect(refetched <= metainfo.pieceCount - record.pieces.heldCount, "pieces known good are not fetched again: \(refetched)")
        await workspace.tearDown()
    }

    /// Torrents that cannot be used: refused with the problem named, exit non-zero, nothing
    /// made in the folder or outside it.
    @Test func unusableTorrentsAreRefusedBeforeAnythingIsWritten() async throws {
        let workspace = try Workspace()
        func info(_ files: [Bencode], hashBytes: Int = 20, name: Bencode = .text("album")) -> [UInt8] {
            Bencode.sortedDictionary([
                Bencode.Entry("announce", .text("http://127.0.0.1:1/announce")),
                Bencode.Entry("info", .sortedDictionary([
                    Bencode.Entry("name", name), Bencode.Entry("piece length", .integer(16384)),
                    Bencode.Entry("pieces", .bytes([UInt8](repeating: 1, count: hashBytes))), Bencode.Entry("files", .list(files)),
                ])),
            ]).encoded()
        }
        func file(_ length: Int64, _ path: String...) -> Bencode {
            .sortedDictionary([Bencode.Entry("length", .integer(length)), Bencode.Entry("path", .list(path.map(Bencode.text)))])
        }
        let cases: [(String, [UInt8], String)] = [
            ("garbage", Array("<html>not a torrent</html>".utf8), "not bencode"),
            ("no-info", Bencode.sortedDictionary([Bencode.Entry("announce", .text("x"))]).encoded(), "missing key info"),
            ("odd-hashes", info([file(100, "a")], hashBytes: 41), "not a multiple of 20"),
            ("lengths", info([file(40000, "a")]), "need 3"),
            ("absolute", info([file(100, "", "etc", "passwd")]), "an empty component"),
            ("dotdot", info([file(100, "..", "..", "escape")]), "a .. component"),
            ("separator", info([file(100, "/etc/passwd")]), "path separator"),
            ("wrong-type", info([file(100, "a")], name: .integer(7)), "info.name is not a UTF-8 string"),
        ]
        for (name, bytes, said) in cases {
            let torrent = workspace.root.appendingPathComponent("\(name).torrent")
            try Data(bytes).write(to: torrent)
            let folder = workspace.root.appendingPathComponent("dir-\(name)")
            let client = try workspace.start(
                "refused-\(name)", Paths.client,
                ["-torrent", torrent.path, "-folder", folder.path, "-transfer_port", "\(freePort())", "-name", name, "-headless"])
            let status = await workspace.exitStatus(of: client, timeout: .seconds(20))
            #expect(status != nil && status != 0, "\(name) must be refused")
            #expect(client.output.contains(said), "\(name): \(client.output)")
            #expect(!FileManager.default.fileExists(atPath: folder.path), "\(name): the folder must not be made")
        }

        // A folder whose torrent directory is a symlink leading out of it.
        let outside = workspace.root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let folder = workspace.root.appendingPathComponent("dir-symlink")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("album"), withDestinationURL: outside)
        let torrent = workspace.root.appendingPathComponent("symlink.torrent")
        try Data(info([file(100, "a")])).write(to: torrent)
        let client = try workspace.start(
            "refused-symlink", Paths.client,
            ["-torrent", torrent.path, "-folder", folder.path, "-transfer_port", "\(freePort())", "-name", "symlink", "-headless"])
        let status = await workspace.exitStatus(of: client, timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(client.output.contains("leads outside the folder through a symlink"), "\(client.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty, "nothing written outside")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["album"], "nothing added to the folder")
        await workspace.tearDown()
    }
}
