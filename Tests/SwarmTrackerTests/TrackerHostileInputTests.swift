import Foundation
import LoopbackSupport
import NIOCore
import Testing
import TorrentProtocol

@testable import SwarmTracker

#if canImport(Glibc)
import Glibc
#endif

/// Every kind of bad input the HTTP and UDP front ends meet gets a clear answer (a 4xx, a
/// bencoded `failure reason`, an error packet) or a closed connection within seconds, is counted
/// in the metrics, and the tracker goes on serving both BitTorrent and the classic protocol.
@Suite(.serialized) struct TrackerHostileInputTests {
    static let hash20 = AnnounceRequest.percentEncoded([UInt8](repeating: 1, count: 20))
    static let peer20 = AnnounceRequest.percentEncoded(Array("-TT0001-000000000001".utf8))

    /// The bad requests: what is sent, what the answer must contain, the error kind counted.
    static let httpCases: [(name: String, request: [UInt8], answer: String, kind: String)] = [
        ("request line over 8 KiB", Array("GET /announce?\(String(repeating: "x", count: 9000)) HTTP/1.1\r\n\r\n".utf8), "400 Bad Request", "malformed_request"),
        ("header block over 16 KiB", Array(("GET / HTTP/1.1\r\n" + (1...20).map { "X-\($0): \(String(repeating: "v", count: 1000))\r\n" }.joined() + "\r\n").utf8), "400 Bad Request", "malformed_request"),
        ("10,000 headers", Array(("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 10_000) + "\r\n").utf8), "400 Bad Request", "malformed_request"),
        ("a huge Content-Length", Array("GET /announce HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".utf8), "413 Payload Too Large", "body"),
        ("POST", Array("POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n".utf8), "405 Method Not Allowed", "method"),
        ("a path out of the root", Array("GET /../../etc/passwd HTTP/1.1\r\n\r\n".utf8), "404 Not Found", "not_found"),
        ("info_hash of 3 bytes", get("/announce?info_hash=abc&peer_id=\(peer20)&port=1&left=0"), "failure reason28:info_hash is 3 bytes, not 20", "bad_announce"),
        ("peer_id of 5 bytes", get("/announce?info_hash=\(hash20)&peer_id=abcde&port=1&left=0"), "peer_id is 5 bytes, not 20", "bad_announce"),
        ("port 0", get("/announce?info_hash=\(hash20)&peer_id=\(peer20)&port=0&left=0"), "port 0 is not a port (1-65535)", "bad_announce"),
        ("port 70000", get("/announce?info_hash=\(hash20)&peer_id=\(peer20)&port=70000&left=0"), "port 70000 is not a port (1-65535)", "bad_announce"),
        ("negative left", get("/announce?info_hash=\(hash20)&peer_id=\(peer20)&port=1&left=-1"), "left -1 is negative", "bad_announce"),
        ("a scrape for 1,000 hashes", get("/scrape?" + (1...1000).map { _ in "info_hash=\(hash20)" }.joined(separator: "&")), "400 Bad Request", "malformed_request"),
        ("a scrape for 101 hashes", get("/scrape?" + (1...101).map { _ in "info_hash=\(hash20)" }.joined(separator: "&")), "more than 100 info_hash values in one scrape", "bad_scrape"),
    ]

    static func get(_ target: String) -> [UInt8] { Array("GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n".utf8) }

    @Test func badHTTPRequestsGetAClearAnswerAreCountedAndServingGoesOn() async throws {
        let tracker = try await TrackerUnderTest()
        for (name, request, expected, kind) in Self.httpCases {
            let metric = "swarm_tracker_errors_total{protocol=\"http\",kind=\"\(kind)\"}"
            let before = tracker.metric(metric) ?? 0
            let started = ContinuousClock.now
            let answer = await Probe.http(port: tracker.httpPort, request)
            #expect(answer.text.contains(expected), "\(name): \(answer.text.prefix(300))")
            #expect(ContinuousClock.now - started < .seconds(5), "\(name) answered within seconds")
            #expect(await tracker.waitForMetric(metric, toReach: before + 1), "\(name) counted as \(kind)")
            try await expectStillServing(tracker, after: name)
        }
        await tracker.stop()
    }

    @Test func numwantOfABillionIsCappedNotRefused() async throws {
        let tracker = try await TrackerUnderTest()
        for peer in 1...30 { _ = await Probe.get(port: tracker.httpPort, Probe.announce(peer: peer)) }
        let answer = await Probe.get(port: tracker.httpPort, Probe.announce(peer: 31, extra: "&port=6881&left=10&compact=1&numwant=1000000000"))
        #expect(answer.contains("5:peers120:"), "20 peers of 6 bytes (the test's cap): \(answer.suffix(200))")
        await tracker.stop()
    }

    /// `ip=` counts only with `-allow-ip-param`: otherwise a client could list any address.
    @Test(arguments: [false, true])
    func theClaimedAddressIsUsedOnlyWhenAllowed(allowed: Bool) async throws {
        let tracker = try await TrackerUnderTest(allowClaimedAddress: allowed)
        // Port 6721 is 0x1A41 and 10.20.30.40 is 0A 14 1E 28: bytes that survive as text.
        _ = await Probe.get(port: tracker.httpPort, Probe.announce(peer: 1, extra: "&port=6721&left=10&ip=10.20.30.40"))
        let answer = await Probe.get(port: tracker.httpPort, Probe.announce(peer: 2))
        let expected = allowed ? "5:peers6:\u{0A}\u{14}\u{1E}(\u{1A}A" : "5:peers6:\u{7F}\u{00}\u{00}\u{01}\u{1A}A"
        #expect(answer.contains(expected), "\(answer.suffix(40).unicodeScalars.map { String($0.value, radix: 16) })")
        await tracker.stop()
    }

    @Test func aClientSendingOneByteASecondIsDisconnected() async throws {
        let tracker = try await TrackerUnderTest(requestTimeout: .seconds(1))
        let port = tracker.httpPort
        let started = ContinuousClock.now
        let closed = await onOwnThread { () -> Bool in
            guard let socket = LoopbackSocketConnection(port: port) else { return false }
            for byte in "GET /announce?info_hash=".utf8 {
                guard socket.send([byte]) else { return true }
                if socket.closedWithin(.seconds(1)) { return true }
            }
            return false
        }
        #expect(closed, "still open after the whole dribble")
        #expect(ContinuousClock.now - started < .seconds(8), "closed within seconds of the 1 s limit, even on a busy machine")
        #expect(await tracker.waitForMetric("swarm_tracker_errors_total{protocol=\"http\",kind=\"timeout\"}", toReach: 1))
        try await expectStillServing(tracker, after: "the slow client")
        await tracker.stop()
    }

    @Test func badUDPPacketsGetAnErrorOrNothingNeverPeers() async throws {
        let tracker = try await TrackerUnderTest()
        _ = await Probe.get(port: tracker.httpPort, Probe.announce(peer: 1))
        // Three bytes: nothing to answer with.
        #expect(await Probe.udp(port: tracker.udpPort, ByteBuffer(bytes: [1, 2, 3]), timeout: .milliseconds(300)) == nil)
        var wrongMagic = ByteBuffer()
        wrongMagic.writeMultipleIntegers(UInt64(0x1234), UInt32(0), UInt32(9))
        #expect(try Self.error(await Probe.udp(port: tracker.udpPort, wrongMagic)) == "connect without BEP 15's protocol id")
        let request = AnnounceRequest(
            infoHash: InfoHash(bytes: [UInt8](repeating: 1, count: 20))!, peerID: Array("-TT0001-000000000002".utf8), port: 6882, uploaded: 0, downloaded: 0,
            left: 5, event: .started, numberWanted: 10)
        let forged = UDPTrackerPacket.announce(request, connectionID: 0xdead_beef, transaction: 3, key: 1)
        #expect(try Self.error(await Probe.udp(port: tracker.udpPort, forged)) == "unknown or expired connection id: connect again")
        var unknown = ByteBuffer()
        unknown.writeMultipleIntegers(UInt64(1), UInt32(7), UInt32(4))
        #expect(try Self.error(await Probe.udp(port: tracker.udpPort, unknown)) == "unknown action 7")
        // A real connect, then an announce with its id: peers at last; then 1,000 hashes in a scrape.
        guard case .connected(_, let id) = try UDPTrackerPacket.parse(try #require(await Probe.udp(port: tracker.udpPort, UDPTrackerPacket.connect(transaction: 5)))) else {
            Issue.record("no connect answer")
            return
        }
        guard case .announced(_, let answer) = try UDPTrackerPacket.parse(try #require(await Probe.udp(port: tracker.udpPort, UDPTrackerPacket.announce(request, connectionID: id, transaction: 6, key: 1))))
        else {
            Issue.record("no announce answer")
            return
        }
        #expect(answer.peers == [PeerEndpoint(host: "127.0.0.1", port: 6881)] && answer.incomplete == 2)
        var scrape = UDPTrackerPacket.scrape([], connectionID: id, transaction: 7)
        scrape.writeBytes([UInt8](repeating: 1, count: 20_000))
        #expect(try Self.error(await Probe.udp(port: tracker.udpPort, scrape)) == "a scrape carries 1 to 74 info-hashes of 20 bytes")
        #expect(tracker.metric("swarm_tracker_errors_total{protocol=\"udp\",kind=\"short_packet\"}") == 1)
        #expect(tracker.metric("swarm_tracker_errors_total{protocol=\"udp\",kind=\"bad_connection_id\"}") == 1)
        #expect(tracker.metric("swarm_tracker_errors_total{protocol=\"udp\",kind=\"bad_request\"}") == 3)
        #expect(tracker.metric("swarm_tracker_requests_total{protocol=\"udp\",kind=\"announce\"}") == 1)
        try await expectStillServing(tracker, after: "the UDP cases")
        await tracker.stop()
    }

    /// The message of an error packet.
    static func error(_ packet: ByteBuffer?) throws -> String? {
        guard let packet, case .error(_, let message) = try UDPTrackerPacket.parse(packet) else { return nil }
        return message
    }

    /// A good announce and a classic question are both still answered.
    func expectStillServing(_ tracker: TrackerUnderTest, after name: String) async throws {
        let announce = await Probe.get(port: tracker.httpPort, Probe.announce(peer: 99))
        #expect(announce.contains("200 OK") && announce.contains("8:intervali"), "after \(name): \(announce.suffix(200))")
        let port = tracker.classicPort
        let classic = await onOwnThread { LoopbackSocket.ask(port: port, "WHERE_CHUNK,1\n", readTimeout: .seconds(5)) }
        #expect(classic == "CHUNK_LOCATION_UNKNOWN,1\n", "after \(name): classic answered \(String(describing: classic))")
    }
}

/// A blocking connection that sends bytes and tells when the other end closed.
final class LoopbackSocketConnection: Sendable {
    let descriptor: Int32

    init?(port: Int) {
        guard let descriptor = LoopbackSocket.connected(port: port) else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8]) -> Bool {
        Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count
    }

    /// Whether the other end closed (or reset) within `timeout`, nothing else arriving.
    func closedWithin(_ timeout: Duration) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout / .milliseconds(1))) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK)) <= 0
    }
}
