import Foundation
import NIOCore
import Synchronization
import Testing
import TorrentProtocol

@testable import SwarmTorrent

#if canImport(Glibc)
import Glibc
#endif

/// A UDP tracker on 127.0.0.1 run by the test on a thread of its own: it answers connects and
/// announces as BEP 15 says (or stays silent), and counts what it received.
final class FakeUDPTracker: Sendable {
    let port: Int
    private let socket: Int32
    private let received = Mutex<[(action: UInt32, bytes: Int, first: UInt64, transaction: UInt32)]>([])
    private let stopped = Atomic<Bool>(false)

    init(answers: Bool) {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        socket = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve(answers: answers) }.start()
    }

    /// The actions received, in order (0 connect, 1 announce).
    var actions: [UInt32] { received.withLock { $0.map(\.action) } }

    /// Each packet's size and first 8 bytes (the protocol id of a connect, the connection id after).
    var packets: [(bytes: Int, first: UInt64)] { received.withLock { $0.map { ($0.bytes, $0.first) } } }

    /// The exchanges of each action: a packet sent again keeps its transaction, so it counts once.
    func exchanges(of action: UInt32) -> Int { received.withLock { Set($0.filter { $0.action == action }.map(\.transaction)).count } }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func serve(answers: Bool) {
        defer { close(socket) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !stopped.load(ordering: .relaxed) {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, &buffer, buffer.count, 0, $0, &length) }
            }
            guard count >= 16 else { continue }
            var packet = ByteBuffer(bytes: buffer[0..<count])
            let first = packet.readInteger(as: UInt64.self)!
            let action = packet.readInteger(as: UInt32.self)!
            let transaction = packet.readInteger(as: UInt32.self)!
            received.withLock { $0.append((action, count, first, transaction)) }
            guard answers else { continue }
            var answer = ByteBuffer()
            answer.writeInteger(action)
            answer.writeInteger(transaction)
            if action == 0 {
                answer.writeInteger(UInt64(0xC0FFEE))
            } else if action == 2 {
                for hash in 0..<(count - 16) / 20 { for value in [hash + 1, 10, 20] { answer.writeInteger(UInt32(value)) } }
            } else {
                answer.writeInteger(UInt32(1800))
                answer.writeInteger(UInt32(3))
                answer.writeInteger(UInt32(7))
                answer.writeBytes([127, 0, 0, 1, 0x1a, 0xe1])
            }
            let bytes = Array(buffer: answer)
            _ = withUnsafePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket, bytes, bytes.count, 0, $0, length) }
            }
        }
    }
}

@Suite struct UDPTrackerTests {
    let request = AnnounceRequest(
        infoHash: InfoHash(bytes: [UInt8](repeating: 5, count: 20))!, peerID: Array("-SW0100-abcdefghijkl".utf8), port: 6881,
        uploaded: 1, downloaded: 2, left: 3, event: .started)

    @Test func packetsHaveTheSpecsLayout() throws {
        #expect(UDPTrackerPacket.connect(transaction: 9).readableBytes == 16)
        let announce = UDPTrackerPacket.announce(request, connectionID: 42, transaction: 7, key: 1)
        #expect(announce.readableBytes == 98)
        #expect(announce.getInteger(at: 80, as: UInt32.self) == 2, "started is event 2")
        #expect(announce.getInteger(at: 96, as: UInt16.self) == 6881)
        var error = ByteBuffer()
        error.writeInteger(UInt32(3))
        error.writeInteger(UInt32(7))
        error.writeString("unknown torrent")
        #expect(try UDPTrackerPacket.parse(error) == .error(transaction: 7, message: "unknown torrent"))
        #expect(throws: AnnounceError.self) { try UDPTrackerPacket.parse(ByteBuffer(bytes: [0, 0, 0])) }
        var odd = ByteBuffer()
        for value in [UInt32(1), 7, 60, 0, 0] { odd.writeInteger(value) }
        odd.writeBytes([1, 2, 3])
        #expect(throws: AnnounceError.malformed("announce peers of 3 bytes, not a multiple of 6")) { try UDPTrackerPacket.parse(odd) }
    }

    @Test func aConnectionIDIsReusedForItsMinute() async throws {
        let tracker = FakeUDPTracker(answers: true)
        defer { tracker.stop() }
        let client = UDPTrackerClient(firstTimeout: .seconds(5), attempts: 3)
        let url = "udp://127.0.0.1:\(tracker.port)/announce"
        let answer = try await client.announce(request, to: url)
        #expect(answer.interval == 1800 && answer.incomplete == 3 && answer.complete == 7)
        #expect(answer.peers == [PeerEndpoint(host: "127.0.0.1", port: 6881)])
        _ = try await client.announce(request, to: url)
        let counts = try await client.scrape([request.infoHash, InfoHash(bytes: [UInt8](repeating: 6, count: 20))!], at: url)
        #expect(counts.map { [$0.seeders, $0.completed, $0.leechers] } == [[1, 10, 20], [2, 10, 20]])
        // (A busy machine may make a packet be sent again: it keeps its transaction.)
        #expect(tracker.exchanges(of: 0) == 1 && tracker.exchanges(of: 1) == 2 && tracker.exchanges(of: 2) == 1, "one connect for two announces and a scrape")
        let packets = tracker.packets
        #expect(packets.first?.bytes == 16 && packets.first?.first == UDPTrackerPacket.protocolID)
        #expect(packets.filter { $0.bytes == 98 }.allSatisfy { $0.first == 0xC0FFEE }, "announces carry the connection id given")
        #expect(packets.last?.bytes == 16 + 40, "a scrape of two hashes")
    }

    @Test func aSilentTrackerIsAskedAgainThenGivenUpOn() async throws {
        let tracker = FakeUDPTracker(answers: false)
        defer { tracker.stop() }
        let client = UDPTrackerClient(firstTimeout: .milliseconds(100), attempts: 3)
        await #expect(throws: AnnounceError.noAnswer("udp://127.0.0.1:\(tracker.port) sent nothing back in 3 tries over 0.7 s")) {
            try await client.announce(request, to: "udp://127.0.0.1:\(tracker.port)")
        }
        #expect(tracker.actions == [0, 0, 0] && tracker.exchanges(of: 0) == 1, "one connect, sent three times: at once, after 0.1 s, after 0.2 s more")
    }
}
