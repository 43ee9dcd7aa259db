import Testing

@testable import TorrentProtocol

@Suite struct MagnetLinkTests {
    @Test func hexAndBase32HashesNamesAndTrackers() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft.example%3A1&tr=http://t2/announce")
        #expect(link.infoHash.hex == "c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
        #expect(link.name == "Big Buck Bunny")
        #expect(link.trackers == ["udp://t.example:1", "http://t2/announce"])
        let base32 = try MagnetLink(parsing: "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK")
        #expect(base32.infoHash == link.infoHash, "the same hash in base32")
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:\(link.infoHash.hex)").infoHash == link.infoHash, "a v2 hash beside is skipped")
    }

    @Test(arguments: [
        ("magnet:?xt=urn:btih:12", MagnetLinkError.badInfoHash("12")), ("torrent.torrent", .notAMagnetLink), ("magnet:?tr=http://t", .noInfoHash),
        ("magnet:?xt=urn:btih:%G1", .malformedField("xt=urn:btih:%G1")), ("magnet:?dn", .malformedField("dn")),
    ])
    func badLinksAreRefusedWithTheProblemNamed(_ text: String, _ error: MagnetLinkError) {
        #expect(throws: error) { try MagnetLink(parsing: text) }
    }

    @Test func metadataMessagesRoundTrip() throws {
        let data = MetadataMessage.data(piece: 1, totalSize: 20000, bytes: [1, 2, 3])
        #expect(MetadataMessage(payload: data.encoded()) == data)
        #expect(MetadataMessage(payload: MetadataMessage.request(piece: 0).encoded()) == .request(piece: 0))
        #expect(MetadataMessage(payload: MetadataMessage.reject(piece: 2).encoded()) == .reject(piece: 2))
        let huge = Bencode.sortedDictionary([Bencode.Entry("msg_type", .integer(1)), Bencode.Entry("piece", .integer(0)), Bencode.Entry("total_size", .integer(1 << 40))])
        #expect(MetadataMessage(payload: huge.encoded()) == nil, "metadata over 10 MiB is refused")
        #expect(MetadataMessage(payload: Array("garbage".utf8)) == nil)
    }
}
