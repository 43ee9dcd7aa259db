import NIOCore
import SwarmProtocol
import Testing

@testable import SwarmCore

/// Several trackers as one, and the address a client registers under.
@Suite struct TrackerLinksTests {
    let digest = SHA1Digest(bytes: [UInt8](repeating: 1, count: 20))
    let other = SHA1Digest(bytes: [UInt8](repeating: 2, count: 20))

    func holder(_ host: String, _ port: Int) -> PeerAddress { PeerAddress(host: host, port: port)! }

    /// Holders from every tracker, each once, in the trackers' order; those under another digest
    /// are left out.
    @Test func answersAreMergedUnderTheFirstDigest() {
        let a = holder("198.18.0.2", 6001)
        let b = holder("198.18.0.3", 6001)
        let c = holder("2001:db8::4", 6001)
        let merged = TrackerLinks.merge([
            .chunkLocationUnknown(ChunkIndex(3)),
            .getChunkFrom(ChunkIndex(3), digest, holders: [a, b]),
            .getChunkFrom(ChunkIndex(3), other, holders: [holder("198.18.0.9", 6001)]),
            .getChunkFrom(ChunkIndex(3), digest, holders: [b, c]),
        ])
        #expect(merged == .getChunkFrom(ChunkIndex(3), digest, holders: [a, b, c]))
    }

    @Test func noHolderAnywhereIsTheFirstAnswer() {
        let merged = TrackerLinks.merge([.chunkLocationUnknown(ChunkIndex(5)), .chunkLocationUnknown(ChunkIndex(5))])
        #expect(merged == .chunkLocationUnknown(ChunkIndex(5)))
    }

    /// Connected while any link is; the fast path only when every connected link has it.
    @Test func linksAreShownAsOneState() {
        let down = TrackerState.retrying(in: .seconds(4), reason: "connection refused")
        let sooner = TrackerState.retrying(in: .seconds(1), reason: "connection reset")
        #expect(TrackerLinks.overall([down, .connected(fastPath: true)]) == .connected(fastPath: true))
        #expect(TrackerLinks.overall([.connected(fastPath: false), .connected(fastPath: true)]) == .connected(fastPath: false))
        #expect(TrackerLinks.overall([down, .connecting]) == .connecting)
        #expect(TrackerLinks.overall([down, sooner]) == sooner)
        #expect(TrackerLinks.overall([down]) == down)
    }

    /// Without -advertise, the connection's local address: loopback stays 127.0.0.1 as it always
    /// was, an IPv4 address mapped into IPv6 is IPv4, IPv6 is kept; -advertise wins.
    @Test(arguments: [
        ("198.18.0.3", "198.18.0.3"),
        ("::ffff:198.18.0.3", "198.18.0.3"),
        ("2001:db8::3", "2001:db8::3"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.2", "127.0.0.1"),
        ("::1", "127.0.0.1"),
    ])
    func theConnectionsAddressIsRegistered(_ local: String, _ registered: String) throws {
        let socket = try SocketAddress(ipAddress: local, port: 40000)
        #expect(Advertisement.connectionAddress(port: 6001).address(forLocal: socket) == holder(registered, 6001))
        let fixed = holder("files.example", 7000)
        #expect(Advertisement.fixed(fixed).address(forLocal: socket) == fixed)
    }

    @Test func noLocalAddressIsNothingToRegister() throws {
        #expect(Advertisement.connectionAddress(port: 6001).address(forLocal: nil) == nil)
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/swarm-test.sock")
        #expect(Advertisement.connectionAddress(port: 6001).address(forLocal: unix) == nil)
    }
}
