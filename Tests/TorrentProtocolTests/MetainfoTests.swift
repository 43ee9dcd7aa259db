import Crypto
import Testing

@testable import TorrentProtocol

/// Torrents built in the test, checked as libtorrent would read them, and refused with a reason.
@Suite struct MetainfoTests {
    static let hashes = Bencode.bytes([UInt8](repeating: 0xab, count: 40))

    static func torrent(info: [Bencode.Entry], announce: String = "http://127.0.0.1:6969/announce", extra: [Bencode.Entry] = []) -> [UInt8] {
        Bencode.sortedDictionary([Bencode.Entry("announce", .text(announce)), Bencode.Entry("info", .sortedDictionary(info))] + extra).encoded()
    }

    static func multiFile(_ files: [Bencode], pieceLength: Int64 = 16384, pieces: Bencode = hashes) -> [UInt8] {
        torrent(info: [
            Bencode.Entry("name", .text("album")), Bencode.Entry("piece length", .integer(pieceLength)),
            Bencode.Entry("pieces", pieces), Bencode.Entry("files", .list(files)),
        ])
    }

    static func file(_ length: Int64, _ path: String...) -> Bencode {
        .sortedDictionary([Bencode.Entry("length", .integer(length)), Bencode.Entry("path", .list(path.map(Bencode.text)))])
    }

    @Test func multiFileTorrentIsLaidOutInOrder() throws {
        let bytes = Self.multiFile([Self.file(20000, "a.txt"), Self.file(1, "sub", "b.bin"), Self.file(5000, "c")])
        let metainfo = try Metainfo(parsing: bytes)
        #expect(metainfo.name == "album" && metainfo.isMultiFile)
        #expect(metainfo.files.map(\.path) == [["a.txt"], ["sub", "b.bin"], ["c"]])
        #expect(metainfo.files.map(\.offset) == [0, 20000, 20001])
        #expect(metainfo.totalLength == 25001)
        #expect(metainfo.pieceCount == 2 && metainfo.length(ofPiece: 0) == 16384 && metainfo.length(ofPiece: 1) == 25001 - 16384)
        #expect(metainfo.announceTiers == [["http://127.0.0.1:6969/announce"]])
    }

    @Test func infoHashIsTheSHA1OfTheRawInfoBytes() throws {
        let bytes = Self.multiFile([Self.file(20000, "a")])
        let metainfo = try Metainfo(parsing: bytes)
        let info = Bencode.sortedDictionary([
            Bencode.Entry("name", .text("album")), Bencode.Entry("piece length", .integer(16384)),
            Bencode.Entry("pieces", Self.hashes), Bencode.Entry("files", .list([Self.file(20000, "a")])),
        ]).encoded()
        #expect(metainfo.rawInfo == info)
        #expect(metainfo.infoHash.bytes == Array(Insecure.SHA1.hash(data: info)))
        #expect(metainfo.infoHash.hex.count == 40 && InfoHash(hex: metainfo.infoHash.hex) == metainfo.infoHash)
    }

    @Test func announceListTiersComeFirst() throws {
        let list = Bencode.list([.list([.text("http://a/announce"), .text("http://b/announce")]), .list([.text("udp://c:1")])])
        let bytes = Self.torrent(
            info: [Bencode.Entry("name", .text("f")), Bencode.Entry("piece length", .integer(16384)), Bencode.Entry("pieces", .bytes([UInt8](repeating: 1, count: 20))), Bencode.Entry("length", .integer(10))],
            extra: [Bencode.Entry("announce-list", list)])
        #expect(try Metainfo(parsing: bytes).announceTiers == [["http://a/announce", "http://b/announce"], ["udp://c:1"]])
    }

    @Test(arguments: [
        (Array("not a torrent".utf8), "not bencode"),
        (Bencode.sortedDictionary([Bencode.Entry("announce", .text("x"))]).encoded(), "missing key info"),
        (multiFile([file(20000, "a")], pieces: .bytes([UInt8](repeating: 1, count: 41))), "not a multiple of 20"),
        (multiFile([file(20000, "a")], pieces: .integer(3)), "info.pieces is not a byte string"),
        (multiFile([file(50000, "a")]), "need 4"),
        (multiFile([file(20000, "..", "etc")]), "is not a safe path: a .. component"),
        (multiFile([file(20000, "/etc/passwd")]), "path separator"),
        (multiFile([file(20000, "a", "", "b")]), "an empty component"),
        (multiFile([file(20000)]), "path is empty"),
        (multiFile([file(-1, "a"), file(20001, "b")]), "negative"),
        (multiFile([file(10000, "a"), file(10000, "a")]), "listed twice"),
        (multiFile([.integer(3)]), "info.files[0] is not a dictionary"),
        (multiFile([file(20000, "a")], pieceLength: 0), "positive number"),
        (multiFile([.sortedDictionary([Bencode.Entry("length", .text("5")), Bencode.Entry("path", .list([.text("a")]))])]), "length is not an integer"),
    ])
    func unusableTorrentsAreRefusedWithTheProblemNamed(_ bytes: [UInt8], _ reason: String) {
        do {
            _ = try Metainfo(parsing: bytes)
            Issue.record("accepted; expected: \(reason)")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }

    @Test func singleFileNameMustBeAPlainName() {
        let bytes = Self.torrent(info: [
            Bencode.Entry("name", .text("../escape")), Bencode.Entry("piece length", .integer(16384)),
            Bencode.Entry("pieces", .bytes([UInt8](repeating: 1, count: 20))), Bencode.Entry("length", .integer(10)),
        ])
        #expect(throws: MetainfoError.unsafePath("info.name", "../escape", reason: "a path separator (an absolute or nested path)")) { try Metainfo(parsing: bytes) }
    }
}
