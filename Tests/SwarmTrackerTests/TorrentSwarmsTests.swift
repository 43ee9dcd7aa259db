import Testing
import TorrentProtocol

@testable import SwarmTracker

@Suite struct TorrentSwarmsTests {
    static let torrent = InfoHash(bytes: [UInt8](repeating: 7, count: 20))!

    static func announce(
        _ peer: Int, left: Int64 = 100, event: AnnounceEvent? = nil, wanted: Int? = nil, torrent: InfoHash = TorrentSwarmsTests.torrent
    ) -> AnnounceQuery {
        AnnounceQuery(
            infoHash: torrent, peerID: Array("peer-\(String(peer).padding(toLength: 15, withPad: "-", startingAt: 0))".utf8), port: 6000 + peer,
            uploaded: 0, downloaded: 0, left: left, event: event, numberWanted: wanted)
    }

    static func address(_ peer: Int) -> CompactPeer { CompactPeer(ipv4: 0x7f00_0001, port: UInt16(6000 + peer)) }

    @Test func peersOtherThanTheAskerAreGivenWithTheCounts() {
        let swarms = TorrentSwarms()
        #expect(swarms.announce(Self.announce(1, left: 0, event: .started), from: Self.address(1), now: 0).peers.isEmpty)
        let answer = swarms.announce(Self.announce(2, event: .started), from: Self.address(2), now: 0)
        #expect(answer.peers == [Self.address(1)])
        #expect(answer.complete == 1 && answer.incomplete == 1 && answer.downloaded == 0)
        // Peer 2 completes: one download counted once, even if it says so twice.
        _ = swarms.announce(Self.announce(2, left: 0, event: .completed), from: Self.address(2), now: 1)
        let again = swarms.announce(Self.announce(2, left: 0, event: .completed), from: Self.address(2), now: 2)
        #expect(again.complete == 2 && again.incomplete == 0 && again.downloaded == 1)
        #expect(swarms.scrape([Self.torrent, InfoHash(bytes: [UInt8](repeating: 1, count: 20))!]) == [
            TorrentSwarms.Counts(complete: 2, incomplete: 0, downloaded: 1), TorrentSwarms.Counts(),
        ])
        #expect(swarms.totals == TorrentSwarms.Totals(torrents: 1, peers: 2, seeders: 2))
        // A leecher that only says stopped with nothing left (as aria2 does) counts too.
        _ = swarms.announce(Self.announce(3, event: .started), from: Self.address(3), now: 3)
        #expect(swarms.announce(Self.announce(3, left: 0, event: .stopped), from: Self.address(3), now: 4).downloaded == 2)
    }

    @Test func numwantIsCappedAndAPickHasNoRepeatsAndIsRandom() {
        var settings = TorrentSwarms.Settings()
        settings.maximumWanted = 30
        let swarms = TorrentSwarms(settings: settings)
        for peer in 1...100 { _ = swarms.announce(Self.announce(peer), from: Self.address(peer), now: 0) }
        let huge = swarms.announce(Self.announce(1, wanted: 1_000_000_000), from: Self.address(1), now: 0)
        #expect(huge.peers.count == 30 && Set(huge.peers).count == 30 && !huge.peers.contains(Self.address(1)))
        #expect(swarms.announce(Self.announce(1), from: Self.address(1), now: 0).peers.count == 30, "capped default too")
        let roomy = TorrentSwarms()
        for peer in 1...100 { _ = roomy.announce(Self.announce(peer), from: Self.address(peer), now: 0) }
        let all = roomy.announce(Self.announce(5, wanted: 200), from: Self.address(5), now: 0)
        #expect(all.peers.count == 99 && Set(all.peers).count == 99, "every other peer, each once")
        // Twenty picks of 10 from 99 reach far more than 10 different peers.
        let seen = Set((1...20).flatMap { _ in swarms.announce(Self.announce(1, wanted: 10), from: Self.address(1), now: 0).peers })
        #expect(seen.count > 40)
    }

    @Test func stoppedPeersGoAtOnceAndSilentOnesAfterTwoIntervals() {
        var settings = TorrentSwarms.Settings()
        settings.interval = 10
        let swarms = TorrentSwarms(settings: settings)
        _ = swarms.announce(Self.announce(1), from: Self.address(1), now: 0)
        _ = swarms.announce(Self.announce(2), from: Self.address(2), now: 0)
        _ = swarms.announce(Self.announce(3), from: Self.address(3), now: 15)
        let stopped = swarms.announce(Self.announce(2, event: .stopped), from: Self.address(2), now: 15)
        #expect(stopped.peers.isEmpty && stopped.incomplete == 2)
        #expect(swarms.sweep(now: 20) == 0, "peer 1 announced 20 s ago: exactly two intervals")
        #expect(swarms.sweep(now: 21) == 1)
        #expect(swarms.announce(Self.announce(4), from: Self.address(4), now: 21).peers == [Self.address(3)])
        #expect(swarms.sweep(now: 100) == 2)
        #expect(swarms.totals == TorrentSwarms.Totals())
    }

    @Test func ipv6PeersAreKeptBesideIPv4Ones() {
        let swarms = TorrentSwarms()
        let v6 = CompactPeer(host: "2001:db8::5", port: 7000)!
        _ = swarms.announce(Self.announce(1), from: v6, now: 0)
        #expect(swarms.announce(Self.announce(2), from: Self.address(2), now: 0).peers == [v6])
    }
}
