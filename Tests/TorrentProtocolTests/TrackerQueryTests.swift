import NIOCore
import Testing

@testable import TorrentProtocol

@Suite struct TrackerQueryTests {
    static let hash = (1...20).map { UInt8($0) }
    static let peer = Array("-SW0100-abcdefghijkl".utf8)

    static func query(_ extra: String = "", hash: [UInt8] = TrackerQueryTests.hash, peer: [UInt8] = TrackerQueryTests.peer) -> ArraySlice<UInt8> {
        ArraySlice(("info_hash=" + AnnounceRequest.percentEncoded(hash) + "&peer_id=" + AnnounceRequest.percentEncoded(peer) + extra).utf8)
    }

    @Test func anAnnounceIsReadWithItsBinaryFieldsAndDefaults() throws {
        let announce = try AnnounceQuery(query: Self.query("&port=6881&uploaded=1&downloaded=2&left=3&event=started&numwant=7&compact=0&ip=10.0.0.1"))
        #expect(announce.infoHash.bytes == Self.hash)
        #expect(announce.peerID == Self.peer)
        #expect(announce.port == 6881)
        #expect([announce.uploaded, announce.downloaded, announce.left] == [1, 2, 3])
        #expect(announce.event == .started)
        #expect(announce.numberWanted == 7)
        #expect(!announce.compact)
        #expect(announce.claimedAddress == "10.0.0.1")
        let plain = try AnnounceQuery(query: Self.query("&port=1&left=0&event=&numwant=-1"))
        #expect(plain.event == nil && plain.numberWanted == nil && plain.compact && plain.uploaded == 0)
    }

    @Test(arguments: [
        ("&port=6881&left=1", [UInt8](repeating: 1, count: 19), peer, "info_hash is 19 bytes, not 20"),
        ("&port=6881&left=1", hash, [UInt8](repeating: 1, count: 21), "peer_id is 21 bytes, not 20"),
        ("&port=0&left=1", hash, peer, "port 0 is not a port (1-65535)"),
        ("&port=70000&left=1", hash, peer, "port 70000 is not a port (1-65535)"),
        ("&port=6881&left=-5", hash, peer, "left -5 is negative"),
        ("&port=6881", hash, peer, "missing left"),
        ("&left=1", hash, peer, "missing port"),
        ("&port=6881&left=1&event=paused", hash, peer, "event \"paused\" is not started, completed or stopped"),
        ("&port=6881&left=1&numwant=lots", hash, peer, "numwant is not a whole number"),
        ("&port=6881&left=1&ip=%G1", hash, peer, "ip has a bad %-escape"),
        ("&port=6881&left=1&uploaded=-3", hash, peer, "uploaded -3 is negative"),
    ] as [(String, [UInt8], [UInt8], String)])
    func badAnnouncesAreRefusedWithTheProblemNamed(_ extra: String, _ hash: [UInt8], _ peer: [UInt8], _ message: String) {
        #expect(throws: TrackerQueryError(message)) { try AnnounceQuery(query: Self.query(extra, hash: hash, peer: peer)) }
    }

    @Test func aScrapeTakesSeveralHashesUpToItsLimit() throws {
        let other = [UInt8](repeating: 9, count: 20)
        let query = "info_hash=" + AnnounceRequest.percentEncoded(Self.hash) + "&info_hash=" + AnnounceRequest.percentEncoded(other)
        #expect(try ScrapeQuery(query: ArraySlice(query.utf8), limit: 2).infoHashes.map(\.bytes) == [Self.hash, other])
        #expect(throws: TrackerQueryError("more than 1 info_hash values in one scrape")) { try ScrapeQuery(query: ArraySlice(query.utf8), limit: 1) }
        #expect(throws: TrackerQueryError("a scrape needs at least one info_hash")) { try ScrapeQuery(query: [], limit: 1) }
    }

    @Test func compactPeersAreWrittenInBothFamilies() throws {
        var buffer = ByteBuffer()
        CompactPeer(host: "127.0.0.1", port: 6881)!.write(to: &buffer)
        #expect(Array(buffer: buffer) == [127, 0, 0, 1, 0x1a, 0xe1])
        let v6 = try #require(CompactPeer(host: "2001:db8::1", port: 80))
        #expect(v6.isIPv6 && v6.compactSize == 18 && v6.description == "[2001:db8:0:0:0:0:0:1]:80")
        buffer.clear()
        v6.write(to: &buffer)
        #expect(Array(buffer: buffer) == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 0, 80])
        let mapped = CompactPeer(ipv6: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 7], port: 1)
        #expect(!mapped.isIPv6 && mapped.host == "198.18.0.7")
        #expect(CompactPeer(host: "300.1.1.1", port: 1) == nil && CompactPeer(host: "::1", port: 0) == nil && CompactPeer(host: "a:b:c", port: 1) == nil)
    }

    @Test func udpRequestsAreReadAndBadOnesAnsweredOrDropped() throws {
        #expect(UDPTrackerRequest.read(ByteBuffer(bytes: [1, 2, 3])) == .drop(reason: "a packet of 3 bytes, shorter than any request (16)"))
        #expect(UDPTrackerRequest.read(UDPTrackerPacket.connect(transaction: 5)) == .request(.connect(transaction: 5)))
        var wrongMagic = ByteBuffer()
        wrongMagic.writeMultipleIntegers(UInt64(42), UInt32(0), UInt32(6))
        #expect(UDPTrackerRequest.read(wrongMagic) == .refuse(transaction: 6, reason: "connect without BEP 15's protocol id"))
        let request = AnnounceRequest(infoHash: InfoHash(bytes: Self.hash)!, peerID: Self.peer, port: 6881, uploaded: 1, downloaded: 2, left: 0, event: .stopped, numberWanted: 30)
        guard case .request(.announce(let id, let transaction, let query)) = UDPTrackerRequest.read(UDPTrackerPacket.announce(request, connectionID: 77, transaction: 8, key: 1))
        else { Issue.record("not read as an announce"); return }
        #expect(id == 77 && transaction == 8 && query.event == .stopped && query.port == 6881 && query.numberWanted == 30 && query.left == 0)
        var unknown = ByteBuffer()
        unknown.writeMultipleIntegers(UInt64(77), UInt32(9), UInt32(10))
        #expect(UDPTrackerRequest.read(unknown) == .refuse(transaction: 10, reason: "unknown action 9"))
        let tooMany = UDPTrackerPacket.scrape([], connectionID: 77, transaction: 11)
        var big = tooMany
        big.writeBytes([UInt8](repeating: 1, count: 20 * 1000))
        #expect(UDPTrackerRequest.read(big) == .refuse(transaction: 11, reason: "a scrape carries 1 to 74 info-hashes of 20 bytes"))
    }
}
