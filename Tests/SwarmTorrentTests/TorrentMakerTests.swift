import Crypto
import Foundation
import NIOPosix
import Testing
import TorrentProtocol

@testable import SwarmTorrent

@Suite final class TorrentMakerTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-maker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("share/b"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    @Test(arguments: [(Int64(1), 16 << 10), (Int64(30 << 20), 16 << 10), (Int64(700 << 20), 512 << 10), (Int64(4) << 30, 4 << 20), (Int64(1) << 40, 16 << 20)])
    func pieceLengthKeepsTheTorrentToAboutTwoThousandPieces(_ total: Int64, _ length: Int) {
        #expect(TorrentMaker.pieceLength(for: total) == length)
    }

    @Test func filesAreSortedHashedAcrossTheirEdgesAndOurStateIsLeftOut() async throws {
        let share = folder.appendingPathComponent("share")
        let parts: [(String, [UInt8])] = [("b/z", Array(repeating: 3, count: 20_000)), ("a", Array(repeating: 1, count: 10_000)), ("b/c", [2])]
        for (path, bytes) in parts { try Data(bytes).write(to: share.appendingPathComponent(path)) }
        try FileManager.default.createDirectory(at: share.appendingPathComponent(".swarm"), withIntermediateDirectories: true)
        try Data([9]).write(to: share.appendingPathComponent(".swarm/x.resume"))
        try FileManager.default.createSymbolicLink(at: share.appendingPathComponent("link"), withDestinationURL: share.appendingPathComponent("a"))
        var maker = TorrentMaker(path: share.path, announce: ["http://t/announce", "udp://u:1"], pieceLength: 16 << 10)
        maker.isPrivate = true
        let metainfo = try Metainfo(parsing: try await maker.make(threadPool: .singleton))
        #expect(metainfo.name == "share" && metainfo.isMultiFile && metainfo.isPrivate)
        #expect(metainfo.files.map(\.path) == [["a"], ["b", "c"], ["b", "z"]])
        #expect(metainfo.announceTiers == [["http://t/announce"], ["udp://u:1"]])
        let stream = parts[1].1 + parts[2].1 + parts[0].1
        for piece in 0..<metainfo.pieceCount {
            let range = piece * (16 << 10)..<min((piece + 1) * (16 << 10), stream.count)
            #expect(metainfo.pieceHashes[piece] == Array(Insecure.SHA1.hash(data: stream[range])), "piece \(piece)")
        }
    }

    @Test func nothingToShareIsRefusedByName() async throws {
        let empty = folder.appendingPathComponent("share/b")
        await #expect(throws: MakeTorrentError.empty(empty.path)) { try await TorrentMaker(path: empty.path, announce: ["http://t"]).make(threadPool: .singleton) }
        let missing = folder.appendingPathComponent("none").path
        await #expect(throws: MakeTorrentError.unreadable(missing, "No such file or directory")) {
            try await TorrentMaker(path: missing, announce: ["http://t"]).make(threadPool: .singleton)
        }
    }
}
