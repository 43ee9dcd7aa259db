import Crypto
import Foundation
import NIOCore
import NIOPosix
import Testing
import TorrentProtocol

@testable import SwarmTorrent

/// The content on disk: layout, blocks across file boundaries, checks, symlinks, resume data.
@Suite final class TorrentStorageTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-storage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Three files (10, 1 and 30 bytes) in pieces of 16 bytes, their content `bytes`.
    static let bytes = (0..<41).map { UInt8($0 * 7 % 251) }

    static func metainfo() throws -> Metainfo {
        let hashes = stride(from: 0, to: bytes.count, by: 16).flatMap { Array(Insecure.SHA1.hash(data: bytes[$0..<min($0 + 16, bytes.count)])) }
        let file = { (length: Int64, path: [String]) in
            Bencode.sortedDictionary([Bencode.Entry("length", .integer(length)), Bencode.Entry("path", .list(path.map(Bencode.text)))])
        }
        let torrent = Bencode.sortedDictionary([
            Bencode.Entry("info", .sortedDictionary([
                Bencode.Entry("name", .text("album")), Bencode.Entry("piece length", .integer(16)), Bencode.Entry("pieces", .bytes(hashes)),
                Bencode.Entry("files", .list([file(10, ["a"]), file(1, ["b"]), file(30, ["sub", "c"])])),
            ]))
        ])
        return try Metainfo(parsing: torrent.encoded())
    }

    @Test func filesAreLaidOutAsOtherClientsDoAndBlocksCrossTheirEdges() async throws {
        let metainfo = try Self.metainfo()
        let storage = try await TorrentStorage.open(metainfo, in: folder.path, threadPool: .singleton)
        defer { storage.close() }
        #expect(storage.paths.map { $0.replacingOccurrences(of: folder.path, with: "") } == ["/album/a", "/album/b", "/album/sub/c"])
        #expect(storage.sizesFound == [0, 0, 0])
        #expect(storage.segments(piece: 0, begin: 8, length: 8).map { "\($0.file):\($0.offset):\($0.count)" } == ["0:8:2", "1:0:1", "2:0:5"])
        for piece in 0..<3 {
            let start = piece * 16
            let block = Self.bytes[start..<min(start + 16, Self.bytes.count)]
            #expect(try await !storage.verify(piece: piece))
            var wrong = Array(block)
            wrong[0] ^= 1
            #expect(try await !storage.commit(piece: piece, bytes: ByteBuffer(bytes: wrong)), "bytes that fail the SHA-1 are refused")
            #expect(try await !storage.verify(piece: piece), "and not written")
            #expect(try await storage.commit(piece: piece, bytes: ByteBuffer(bytes: block)))
            #expect(try await storage.verify(piece: piece))
        }
        let read = try await storage.read(BlockRequest(piece: 0, begin: 4, length: 12))
        #expect(Array(buffer: read) == Array(Self.bytes[4..<16]))
        #expect(try Data(contentsOf: folder.appendingPathComponent("album/sub/c")) == Data(Self.bytes[11...]))
    }

    @Test func existingContentIsNeverShortenedAndNewFilesAreMadeByTheirFirstPiece() async throws {
        let metainfo = try Self.metainfo()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("album"), withIntermediateDirectories: true)
        try Data(Self.bytes[0..<10] + [9, 9, 9]).write(to: folder.appendingPathComponent("album/a"))
        let storage = try await TorrentStorage.open(metainfo, in: folder.path, threadPool: .singleton)
        defer { storage.close() }
        #expect(storage.sizesFound == [13, 0, 0])
        #expect(storage.fileSizes() == [13, 0, 0], "a longer file is left as it was; missing ones are not made yet")
        #expect(try await storage.commit(piece: 2, bytes: ByteBuffer(bytes: Self.bytes[32...])))
        #expect(storage.fileSizes() == [13, 0, 30], "a file is made, at its full length, by its first write")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("album/b").path))
        #expect(!storage.wasPresent(piece: 0), "piece 0 also needs file b, which was not there")
    }

    @Test func aSymlinkLeadingOutOfTheFolderIsRefusedAndOneInsideIsFollowed() throws {
        let metainfo = try Self.metainfo()
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("album"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("album/sub"), withDestinationURL: outside)
        #expect(throws: StorageError.leavesFolder(folder.path + "/album/sub")) { try TorrentStorage.plan(metainfo, in: folder.path) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("album/sub"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("album/sub"), withDestinationURL: folder.appendingPathComponent("real"))
        #expect(throws: Never.self) { try TorrentStorage.plan(metainfo, in: folder.path) }
        #expect(throws: StorageError.folderMissing("/no/such/folder")) { try TorrentStorage.plan(metainfo, in: "/no/such/folder") }
    }

    @Test func resumeDataRoundTripsAndRefusesAnotherTorrentsRecord() throws {
        let metainfo = try Self.metainfo()
        var pieces = Bitfield(count: 3)
        pieces[1] = true
        let record = ResumeData(pieces: pieces, fileSizes: [10, 1, 30])
        try record.save(infoHash: metainfo.infoHash, in: folder.path)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: ResumeData.path(for: metainfo.infoHash, in: folder.path))))
        #expect(ResumeData(bytes: bytes, infoHash: metainfo.infoHash, pieceCount: 3) == record)
        #expect(ResumeData(bytes: bytes, infoHash: InfoHash(bytes: [UInt8](repeating: 0, count: 20))!, pieceCount: 3) == nil)
        #expect(ResumeData(bytes: bytes, infoHash: metainfo.infoHash, pieceCount: 9) == nil, "a bitfield of another size")
        #expect(ResumeData(bytes: Array("garbage".utf8), infoHash: metainfo.infoHash, pieceCount: 3) == nil)
    }
}
