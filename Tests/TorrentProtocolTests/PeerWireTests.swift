import NIOCore
import NIOEmbedded
import Testing

@testable import TorrentProtocol

/// The peer wire codec through a real channel pipeline: round trips, split and glued input,
/// hostile bytes.
@Suite struct PeerWireTests {
    let infoHash = InfoHash(bytes: [UInt8](repeating: 7, count: 20))!
    let peerID = Array("-SW0100-abcdefghijkl".utf8)

    func channel(maximumLength: Int = 1 << 16) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerWireDecoder(maximumLength: maximumLength)))
        return channel
    }

    func bytes(_ handshake: Handshake, _ messages: [PeerMessage]) -> ByteBuffer {
        var buffer = ByteBuffer()
        handshake.write(to: &buffer)
        for message in messages { message.write(to: &buffer) }
        return buffer
    }

    static let messages: [PeerMessage] = [
        .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(piece: 70000), .bitfield([0xff, 0x80]),
        .request(BlockRequest(piece: 1, begin: 16384, length: 16384)), .piece(piece: 2, begin: 0, block: ByteBuffer(bytes: [1, 2, 3])),
        .cancel(BlockRequest(piece: 1, begin: 0, length: 16384)), .port(6881), .suggest(piece: 3), .haveAll, .haveNone,
        .reject(BlockRequest(piece: 4, begin: 0, length: 1)), .allowedFast(piece: 5), .extended(id: 0, payload: Array("d1:md11:ut_metadatai1eee".utf8)),
    ]

    @Test func handshakeAndEveryMessageRoundTripEvenOneByteAtATime() throws {
        let handshake = Handshake(infoHash: infoHash, peerID: peerID)
        #expect(handshake.supportsFastExtension && handshake.supportsExtensionProtocol)
        var all = bytes(handshake, Self.messages)
        let channel = try channel()
        while let byte = all.readSlice(length: 1) { try channel.writeInbound(byte) }
        #expect(try channel.readInbound(as: PeerWireFrame.self) == .handshake(handshake))
        for message in Self.messages { #expect(try channel.readInbound(as: PeerWireFrame.self) == .message(message)) }
        #expect(try channel.readInbound(as: PeerWireFrame.self) == nil)
    }

    @Test func unknownMessageIdsAreSkipped() throws {
        var buffer = bytes(Handshake(infoHash: infoHash, peerID: peerID), [])
        buffer.writeBytes([0, 0, 0, 3, 99, 1, 2])
        PeerMessage.unchoke.write(to: &buffer)
        let channel = try channel()
        try channel.writeInbound(buffer)
        _ = try channel.readInbound(as: PeerWireFrame.self)
        #expect(try channel.readInbound(as: PeerWireFrame.self) == .message(.unchoke))
    }

    @Test func aConnectionThatIsNotBitTorrentIsRefusedAtItsFirstByte() throws {
        let channel = try channel()
        // An MSE handshake starts with random bytes: refused before the other side waits for more.
        #expect(throws: PeerWireError.notBitTorrent) { try channel.writeInbound(ByteBuffer(bytes: [0x8a])) }
    }

    @Test func aLengthOverTheLimitIsRefusedBeforeItArrives() throws {
        var buffer = bytes(Handshake(infoHash: infoHash, peerID: peerID), [])
        buffer.writeInteger(UInt32(1 << 30))
        let channel = try channel()
        #expect(throws: PeerWireError.tooLong(1 << 30, maximum: 1 << 16)) { try channel.writeInbound(buffer) }
    }

    @Test(arguments: [[0, 0, 0, 2, 1, 0], [0, 0, 0, 4, 4, 0, 0, 1], [0, 0, 0, 5, 6, 0, 0, 0, 1], [0, 0, 0, 5, 7, 0, 0, 0, 0]] as [[UInt8]])
    func messagesOfTheWrongLengthForTheirIdAreRefused(_ message: [UInt8]) throws {
        var buffer = bytes(Handshake(infoHash: infoHash, peerID: peerID), [])
        buffer.writeBytes(message)
        let channel = try channel()
        #expect(throws: PeerWireError.self) { try channel.writeInbound(buffer) }
    }

    @Test func bitfieldsOfTheWrongSizeOrWithSpareBitsAreRefused() throws {
        #expect(try Bitfield(bytes: [0xff, 0xe0], count: 11).heldCount == 11)
        #expect(throws: BitfieldError.spareBitsSet) { try Bitfield(bytes: [0xff, 0xf0], count: 11) }
        #expect(throws: BitfieldError.wrongSize(3, expected: 2)) { try Bitfield(bytes: [0, 0, 0], count: 11) }
        var field = Bitfield(count: 11)
        field[10] = true
        field[0] = true
        #expect(field.bytes == [0x80, 0x20] && field.heldPieces == [0, 10] && !field.isFull)
        #expect(Bitfield.full(count: 11).isFull)
    }

    @Test func fuzzedBytesAfterAHandshakeNeverCrash() throws {
        for _ in 0..<500 {
            let channel = try channel(maximumLength: 4096)
            var buffer = bytes(Handshake(infoHash: infoHash, peerID: peerID), [])
            buffer.writeBytes((0..<Int.random(in: 0..<300)).map { _ in UInt8.random(in: 0...255) })
            do {
                try channel.writeInbound(buffer)
                while try channel.readInbound(as: PeerWireFrame.self) != nil {}
            } catch is PeerWireError {
                // A typed refusal is the other allowed outcome.
            }
            _ = try? channel.finish()
        }
    }
}

@Suite struct AnnounceTests {
    @Test func urlPercentEncodesEveryHashByte() {
        let request = AnnounceRequest(
            infoHash: InfoHash(bytes: Array(0..<20))!, peerID: Array("-SW0100-000000000000".utf8), port: 6881,
            uploaded: 0, downloaded: 10, left: 90, event: .started)
        let url = request.url(base: "http://127.0.0.1:6969/announce")
        #expect(url.hasPrefix("http://127.0.0.1:6969/announce?info_hash=%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13&peer_id=%2D%53%57"))
        #expect(url.contains("&port=6881&uploaded=0&downloaded=10&left=90&compact=1&numwant=50&event=started"))
        #expect(!url.contains("+"))
        #expect(request.url(base: "http://t/announce?key=1").hasPrefix("http://t/announce?key=1&info_hash="))
    }

    @Test func compactPeersAndPeers6AreRead() throws {
        let body = Bencode.sortedDictionary([
            Bencode.Entry("interval", .integer(1800)), Bencode.Entry("min interval", .integer(60)),
            Bencode.Entry("complete", .integer(2)), Bencode.Entry("incomplete", .integer(1)),
            Bencode.Entry("peers", .bytes([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80])),
            Bencode.Entry("peers6", .bytes([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 0x17, 0x70])),
        ]).encoded()
        let answer = try AnnounceResponse(parsing: body)
        #expect(answer.interval == 1800 && answer.minimumInterval == 60 && answer.complete == 2 && answer.incomplete == 1)
        #expect(answer.peers.map(\.description) == ["127.0.0.1:6881", "10.0.0.2:80", "[2001:db8:0:0:0:0:0:1]:6000"])
    }

    @Test func dictionaryPeersAreRead() throws {
        let peer = Bencode.sortedDictionary([Bencode.Entry("ip", .text("::1")), Bencode.Entry("port", .integer(7000)), Bencode.Entry("peer id", .text("x"))])
        let body = Bencode.sortedDictionary([Bencode.Entry("interval", .integer(60)), Bencode.Entry("peers", .list([peer]))]).encoded()
        #expect(try AnnounceResponse(parsing: body).peers == [PeerEndpoint(host: "::1", port: 7000)])
    }

    @Test func aFailureReasonIsTheTrackersOwnWords() {
        let body = Array("d14:failure reason17:torrent not founde".utf8)
        #expect(throws: AnnounceError.failure("torrent not found", retryIn: nil)) { try AnnounceResponse(parsing: body) }
        #expect(throws: AnnounceError.self) { try AnnounceResponse(parsing: Array("<html>".utf8)) }
        #expect(throws: AnnounceError.malformed("compact peers of 5 bytes, not a multiple of 6")) {
            try AnnounceResponse(parsing: Array("d8:intervali5e5:peers5:abcdee".utf8))
        }
    }
}
