import NIOCore
import Testing

@testable import SwarmProtocol

@Suite struct WireMessageTests {
    static let digest = SHA1Digest(hex: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")!
    static let holder = PeerAddress(host: "127.0.0.1", port: 6001)!

    static let requests: [TrackerRequest] = [
        .localChunks(ChunkIndex(1), digest, holder: holder),
        .localChunks(ChunkIndex(ChunkIndex.maximum), .empty, holder: PeerAddress(host: "localhost", port: 65535)!),
        .localChunks(ChunkIndex(7), digest, holder: PeerAddress(host: "::1", port: 1)!),
        .whereChunk(ChunkIndex(3)),
    ]

    static let answers: [TrackerAnswer] = [
        .getChunkFrom(ChunkIndex(3), digest, holders: [holder]),
        .getChunkFrom(ChunkIndex(3), digest, holders: [holder, PeerAddress(host: "localhost", port: 6002)!]),
        .chunkLocationUnknown(ChunkIndex(9)),
    ]

    @Test(arguments: requests)
    func trackerRequestRoundTrips(_ request: TrackerRequest) throws {
        #expect(try TrackerRequest(parsing: request.wireText) == request)
        var terminated = request.encoded(terminated: true)
        #expect(terminated.readString(length: terminated.readableBytes) == request.wireText + "\n")
    }

    @Test(arguments: answers)
    func trackerAnswerRoundTrips(_ answer: TrackerAnswer) throws {
        #expect(try TrackerAnswer(parsing: answer.wireText) == answer)
    }

    @Test func peerRequestRoundTripsWithoutTerminator() throws {
        let request = PeerRequest.requestChunk(ChunkIndex(12))
        var bytes = request.encoded(terminated: false)
        #expect(bytes.readString(length: bytes.readableBytes) == "REQUEST_CHUNK,12")
        #expect(try PeerRequest(parsing: "REQUEST_CHUNK,12") == request)
    }

    @Test func wireTextIsExactlyTheSeedFormat() {
        #expect(Self.requests[0].wireText == "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1,6001")
        #expect(Self.answers[1].wireText
            == "GET_CHUNK_FROM,3,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1,6001,localhost,6002")
    }

    @Test func strayNewlinesEchoedBySeedTrackersAreStripped() throws {
        let answer = try TrackerAnswer(
            parsing: "GET_CHUNK_FROM,3,2FD4E1C67A2D28FCED849EE1BB76E7391B93EB12,127.0.0.1,6001\n,localhost ,6002\r\n,"
        )
        #expect(answer == Self.answers[1])
    }

    @Test(arguments: [
        "WHERE_CHUNK,0", "WHERE_CHUNK,-1", "WHERE_CHUNK,abc", "WHERE_CHUNK,99999999999999999999", "WHERE_CHUNK,",
        "WHERE_CHUNK,1,2", "LOCAL_CHUNKS,1,abc,127.0.0.1,6000", "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1,0",
        "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1,65536",
        "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,bad host!,6000",
        "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1", "REQUEST_CHUNK,1", "HELLO", "",
    ])
    func badTrackerRequestsAreRefused(_ text: String) {
        #expect(throws: WireError.self) { try TrackerRequest(parsing: text) }
    }

    /// `WHERE_CHUNK,<digits>` has a parse path of its own; every form near it must read as the
    /// general path reads it.
    @Test(arguments: [
        ("WHERE_CHUNK,7", 7), ("WHERE_CHUNK,007", 7), ("WHERE_CHUNK,2147483647", 2_147_483_647),
        ("WHERE_CHUNK, 12 ", 12), ("WHERE_CHUNK,12\r", 12), ("WHERE_CHUNK,2147483648", nil),
        ("WHERE_CHUNK,00000000001", nil), ("WHERE_CHUNK,1a", nil), ("WHERE_CHUNK,+1", nil), ("WHERE_CHUNK,٣", nil),
    ] as [(String, Int?)])
    func whereChunkReadsTheSameOnEveryPath(_ text: String, _ index: Int?) {
        #expect((try? TrackerRequest(parsing: text)) == index.map { .whereChunk(ChunkIndex($0)) })
    }

    @Test func errorsSayWhatIsWrong() {
        #expect(throws: WireError.malformed(verb: .whereChunk, text: "WHERE_CHUNK,0", reason: "chunk index \"0\" is not a number from 1 to 2147483647")) {
            try TrackerRequest(parsing: "WHERE_CHUNK,0")
        }
        let error = WireError.unknownVerb("HELLO\n")
        #expect(error.description == "unknown message \"HELLO\\n\"")
    }

    @Test(arguments: [
        ("localhost", true), ("127.0.0.1", true), ("::1", true), ("peer-1.example.org", true), ("", false),
        ("bad host", false), ("-lead", false), ("trail-", false), ("a..b", false), ("x,y", false), ("under_score", false),
        ("hôst", false), (String(repeating: "a", count: 63), true), (String(repeating: "a", count: 64), false),
    ])
    func holdersMayBeAddressesOrHostNames(_ host: String, _ valid: Bool) {
        #expect(PeerAddress.isValidHost(host) == valid)
    }

    /// Fields are cut and trimmed by bytes; text around multi-byte characters stays whole.
    @Test func fieldsAroundNonASCIITextAreCutAtTheirPadding() {
        #expect(" \tchunk_é \r\n".trimmingWireWhitespace() == "chunk_é")
        #expect("日本 ".trimmingWireWhitespace() == "日本")
        #expect(" \r\n ".trimmingWireWhitespace() == "")
        let text = "GET_CHUNK_FROM,3,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12, hôst ,6001"
        #expect(throws: WireError.malformed(verb: .getChunkFrom, text: text, reason: "holder \"hôst\" is neither an IP address nor a host name")) {
            try TrackerAnswer(parsing: text)
        }
    }

    @Test func trackerAddressesParseWithBracketedIPv6() {
        #expect(PeerAddress(parsing: "127.0.0.1:5100") == PeerAddress(host: "127.0.0.1", port: 5100))
        #expect(PeerAddress(parsing: "[::1]:5100") == PeerAddress(host: "::1", port: 5100))
        #expect(PeerAddress(parsing: "localhost") == nil)
        #expect(PeerAddress(parsing: "localhost:0") == nil)
    }

    @Test func loopbackAndEveryAddressHostsAreKnown() {
        #expect(["localhost", "127.0.0.1", "127.0.0.2", "::1"].allSatisfy(PeerAddress.isLoopback))
        #expect(!["198.18.0.2", "2001:db8::1", "::", "0.0.0.0", "localhost.example"].contains(where: PeerAddress.isLoopback))
        #expect(["::", "0.0.0.0"].allSatisfy(PeerAddress.isEveryAddress))
        #expect(!["::1", "127.0.0.1", "198.18.0.2"].contains(where: PeerAddress.isEveryAddress))
    }
}
