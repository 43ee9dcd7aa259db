import Foundation
import Testing

/// Our client's trackers: `announce-list` tiers in order, a tracker's refusal shown in its own
/// words, a tracker that is down retried with backoff while peers keep trading.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct TorrentTrackerTests {
    @Test func tiersAreTriedInOrderAndARefusalIsShownInTheTrackersWords() async throws {
        let workspace = try Workspace()
        let draft = try workspace.makeTorrent(announce: "http://127.0.0.1:1/announce")
        let opentracker = try await workspace.startOpentracker(infoHashes: [draft.infoHash])
        let refusingPort = freePort()
        let refusing = try workspace.start(
            "refusing-tracker", TorrentTools.python,
            [TorrentTools.badPeer.path, "failing-tracker", "--port", "\(refusingPort)", "--reason", "not registered here", "--timeout", "60"])
        await waitUntil("the refusing tracker listens") { refusing.output.contains("LISTENING") }
        // Tier 1: nobody listening; tier 2: a refusal; tier 3: opentracker. The info-hash is the
        // same whatever the trackers, so libtorrent seeds from a torrent naming opentracker only.
        let ours = try workspace.makeTorrent(
            announce: "http://127.0.0.1:\(freePort())/announce", moreTiers: ["http://127.0.0.1:\(refusingPort)/announce", opentracker], torrentName: "tiers")
        let seeds = try workspace.makeTorrent(announce: opentracker, torrentName: "plain")
        #expect(ours.infoHash == seeds.infoHash)
        let seeder = try workspace.startLibtorrent("lt-seed", seeds, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let client = try workspace.startTorrentClient("ours", ours, folder: "ours")
        #expect(await workspace.exitStatus(of: client) == 0, "\(client.output)")
        #expect(client.output.contains("tracker http://127.0.0.1:\(refusingPort)/announce: tracker says: not registered here"), "\(client.output)")
        #expect(refusing.output.contains("ANNOUNCE"), "the second tier was asked")
        #expect(workspace.holdsContent(ours, in: "ours"))
        await workspace.tearDown()
    }

    @Test func aSwarmThroughOpentrackersUDPPort() async throws {
        let workspace = try Workspace()
        let draft = try workspace.makeTorrent(announce: "udp://127.0.0.1:1/announce")
        let http = try await workspace.startOpentracker(infoHashes: [draft.infoHash])
        let udp = http.replacingOccurrences(of: "http://", with: "udp://")
        let fixture = try workspace.makeTorrent(announce: udp)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds") { seeder.output.contains("SEEDING") }
        let ours = try workspace.startTorrentClient("ours", fixture, folder: "ours")
        #expect(await workspace.exitStatus(of: ours) == 0, "\(ours.output)")
        #expect(ours.output.contains("tracker counts"), "the UDP tracker's counts: \(ours.output)")
        #expect(workspace.holdsContent(fixture, in: "ours"))
        await workspace.tearDown()
    }

    @Test func aTrackerThatIsDownIsRetriedWithBackoffWhilePeersKeepTrading() async throws {
        let workspace = try Workspace()
        let fixture = try workspace.makeTorrent(announce: "http://127.0.0.1:\(freePort())/announce")
        let port = freePort()
        let seeder = try workspace.startTorrentClient("ours", fixture, folder: "seed", port: port, extra: [])
        await waitUntil("two retries, the second later than the first", timeout: .seconds(20)) {
            seeder.output.split(separator: "\n").filter { $0.contains("tracker retrying in") && $0.contains("connection refused") }.count >= 2
        }
        let delays = seeder.output.split(separator: "\n").filter { $0.contains("tracker retrying in") }.compactMap { line in
            line.split(separator: "retrying in ").last?.split(separator: " ").first.flatMap { Double($0) }
        }
        #expect(delays.count >= 2 && delays[1] > delays[0], "backoff grows: \(delays)")
        // A peer that finds us anyway is served meanwhile.
        let leecher = try workspace.start(
            "lt-leech", TorrentTools.python,
            [TorrentTools.libtorrentPeer.path, "--torrent", fixture.torrent.path, "--save", workspace.root.appendingPathComponent("leech").path,
             "--port", "\(freePort())", "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        await waitUntil("libtorrent completes from our client", timeout: .seconds(60)) { leecher.output.contains("SEEDING") }
        #expect(workspace.holdsContent(fixture, in: "leech"))
        await workspace.tearDown()
    }
}
