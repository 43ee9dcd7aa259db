import Foundation
import LoopbackSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Our `tracker` serving real BitTorrent clients: libtorrent and aria2 over HTTP, libtorrent
/// over UDP, our own client; scrape counts after a download; `/metrics` read by the
/// prometheus-client parser.
@Suite(.serialized, .enabled(if: TorrentTools.available, "needs python3-libtorrent, opentracker and aria2 (bash .ci/run installs them)"))
struct OurTrackerTests {
    /// Our tracker with its HTTP and UDP front ends; the announce URLs.
    static func startTracker(_ workspace: Workspace, extra: [String] = []) async throws -> (http: String, udp: String, httpPort: Int, classicPort: Int) {
        let (httpPort, udpPort) = (freePort(), freePort())
        let (_, classicPort) = try await workspace.startTracker(arguments: ["-http-port", "\(httpPort)", "-udp-port", "\(udpPort)"] + extra)
        await waitUntil("the HTTP front end listens") { isListening(port: httpPort) }
        return ("http://127.0.0.1:\(httpPort)/announce", "udp://127.0.0.1:\(udpPort)/announce", httpPort, classicPort)
    }

    /// The body of `GET path` from 127.0.0.1:`port`.
    static func get(port: Int, _ path: String) throws -> Data {
        guard let body = LoopbackSocket.httpGet(port: port, path) else { throw HTTPFailure("no answer to GET \(path) on port \(port)") }
        return Data(body)
    }

    /// Waits until our tracker's scrape of `fixture` counts `complete` seeds, `downloaded`
    /// downloads and no leecher; records an issue with the last scrape if it never does.
    static func scrapeShows(port: Int, _ fixture: TorrentFixture, complete: Int, downloaded: Int) async -> Bool {
        let path = "/scrape?info_hash=\(AnnounceEncoding.percentEncoded(hex: fixture.infoHash))"
        var scrape = ""
        let counts = ["8:completei\(complete)e", "10:downloadedi\(downloaded)e", "10:incompletei0e"]
        let shown = await waitUntil("the scrape to show \(complete) seeds, \(downloaded) downloads, no leecher") {
            scrape = (try? get(port: port, path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return counts.allSatisfy(scrape.contains)
        }
        if !shown { Issue.record("the last scrape: \(scrape)") }
        return shown
    }

    struct HTTPFailure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    @Test func libtorrentSeedsToAria2ThroughOurHTTPTrackerAndTheScrapeCountsIt() async throws {
        let workspace = try Workspace()
        let (announce, _, httpPort, _) = try await Self.startTracker(workspace)
        let fixture = try workspace.makeTorrent(announce: announce)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds and has announced") {
            seeder.output.contains("SEEDING") && (try? Self.get(port: httpPort, "/metrics")).map { String(decoding: $0, as: UTF8.self).contains("swarm_tracker_seeders 1.0") } == true
        }
        let leecher = try workspace.start(
            "aria2-leech", TorrentTools.aria2c,
            TorrentTools.aria2Flags + ["--listen-port=\(freePort())", "--seed-time=0", "-d", workspace.root.appendingPathComponent("aria2").path, fixture.torrent.path])
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        #expect(workspace.holdsContent(fixture, in: "aria2"), "\(leecher.output)")
        // aria2 said completed (one download), then stopped: the seeder is left.
        #expect(await Self.scrapeShows(port: httpPort, fixture, complete: 1, downloaded: 1))
        await workspace.tearDown()
    }

    @Test func twoLibtorrentPeersFindEachOtherThroughOurUDPTracker() async throws {
        let workspace = try Workspace()
        let (_, announce, httpPort, _) = try await Self.startTracker(workspace)
        let fixture = try workspace.makeTorrent(announce: announce)
        let seeder = try workspace.startLibtorrent("lt-seed", fixture, folder: "seed")
        await waitUntil("libtorrent seeds and has announced over UDP") {
            seeder.output.contains("SEEDING")
                && (try? Self.get(port: httpPort, "/metrics")).map { String(decoding: $0, as: UTF8.self).contains("swarm_tracker_requests_total{protocol=\"udp\",kind=\"announce\"} 1") } == true
        }
        let save = workspace.root.appendingPathComponent("leech")
        try FileManager.default.createDirectory(at: save, withIntermediateDirectories: true)
        let leecher = try workspace.start(
            "lt-leech", TorrentTools.python,
            [TorrentTools.libtorrentPeer.path, "--torrent", fixture.torrent.path, "--save", save.path, "--port", "\(freePort())", "--timeout", "60", "--exit-when-seeding"])
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        #expect(workspace.holdsContent(fixture, in: "leech"))
        await workspace.tearDown()
    }

    /// Our client's whole life as our tracker sees it: the leecher's download counted, its exit
    /// (`stopped`) leaving the seeder alone, the seeder's stop (SIGTERM: `stopped` said although
    /// the session's task is cancelled) leaving nobody.
    @Test func ourClientSeedsToOurClientThroughOurTracker() async throws {
        let workspace = try Workspace()
        let (announce, _, httpPort, _) = try await Self.startTracker(workspace)
        let fixture = try workspace.makeTorrent(announce: announce)
        let seeder = try workspace.startTorrentClient("ours-seed", fixture, folder: "seed", extra: [])
        await waitUntil("our seeder announced") { seeder.output.contains("tracker connected") }
        let leecher = try workspace.startTorrentClient("ours-leech", fixture, folder: "leech")
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        #expect(leecher.output.contains("tracker counts 1 seeds"), "\(leecher.output)")
        #expect(workspace.holdsContent(fixture, in: "leech"))
        // Without `stopped`, a peer stays counted for two announce intervals (an hour here).
        #expect(await Self.scrapeShows(port: httpPort, fixture, complete: 1, downloaded: 1), "the leecher's exit leaves the seeder")
        #expect(await seeder.stop() == 0)
        // A swarm left empty is forgotten, its count of downloads with it.
        #expect(await Self.scrapeShows(port: httpPort, fixture, complete: 0, downloaded: 0), "the seeder's stop leaves nobody")
        await workspace.tearDown()
    }

    @Test(.enabled(if: PrometheusParser.available, "needs prometheus-client for python3 (bash .ci/run installs it)"))
    func metricsParseAsPrometheusTextAndCountWhatWasSent() async throws {
        let workspace = try Workspace()
        let (_, _, httpPort, classicPort) = try await Self.startTracker(workspace)
        let before = try PrometheusParser.samples(try Self.get(port: httpPort, "/metrics"))
        let hash = String(repeating: "%01", count: 20)
        for peer in 0..<7 {
            let peerID = String(format: "-TT0001-%012d", peer)
            _ = try Self.get(port: httpPort, "/announce?info_hash=\(hash)&peer_id=\(peerID)&port=\(6000 + peer)&left=\(peer == 0 ? 0 : 5)")
        }
        _ = try Self.get(port: httpPort, "/announce?info_hash=short&peer_id=x&port=1&left=0")
        _ = try Self.get(port: httpPort, "/scrape?info_hash=\(hash)")
        _ = LoopbackSocket.ask(port: classicPort, "WHERE_CHUNK,5\n", readTimeout: .seconds(5))
        let after = try PrometheusParser.samples(try Self.get(port: httpPort, "/metrics"))
        func grew(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        #expect(grew("swarm_tracker_requests_total{kind=\"announce\",protocol=\"http\"}") == 7)
        #expect(grew("swarm_tracker_requests_total{kind=\"scrape\",protocol=\"http\"}") == 1)
        #expect(grew("swarm_tracker_errors_total{kind=\"bad_announce\",protocol=\"http\"}") == 1)
        #expect(grew("swarm_tracker_requests_total{kind=\"where_chunk\",protocol=\"classic\"}") == 1)
        #expect(after["swarm_tracker_peers{}"] == 7 && after["swarm_tracker_seeders{}"] == 1 && after["swarm_tracker_torrents{}"] == 1)
        #expect(grew("swarm_tracker_answer_seconds_count{protocol=\"http\"}") == 8, "7 announces and a scrape timed")
        let status = String(decoding: try Self.get(port: httpPort, "/"), as: UTF8.self)
        #expect(status.contains("BitTorrent: 1 torrents, 7 peers (1 seeders)"), "\(status)")
        await workspace.tearDown()
    }
}

/// The prometheus-client parser from PyPI, run by the `python3` on the PATH.
enum PrometheusParser {
    static let script = Bundle.module.url(forResource: "prom_parse", withExtension: "py", subdirectory: "Torrent")!

    static let available: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import prometheus_client"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    /// Every sample of `text` by `name{labels}` (labels sorted); throws if it does not parse.
    static func samples(_ text: Data) throws -> [String: Double] {
        let parser = Process()
        let (input, output, errors) = (Pipe(), Pipe(), Pipe())
        parser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        parser.arguments = ["python3", script.path]
        parser.standardInput = input
        parser.standardOutput = output
        parser.standardError = errors
        try parser.run()
        input.fileHandleForWriting.write(text)
        try input.fileHandleForWriting.close()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        parser.waitUntilExit()
        guard parser.terminationStatus == 0 else {
            throw OurTrackerTests.HTTPFailure(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        var samples: [String: Double] = [:]
        for line in printed.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}

/// `%XX` for each byte of a hex info-hash, as a query carries it.
enum AnnounceEncoding {
    static func percentEncoded(hex: String) -> String {
        var text = ""
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            text += "%" + hex[index..<next]
            index = next
        }
        return text
    }
}

/// The tracker's BitTorrent flags end to end, with no other client: IPv6 peers in `peers6`,
/// `event=stopped`, and expiry after two intervals of `-announce-interval 3`.
@Suite struct TrackerAnnounceFlagsTests {
    /// The body of `GET url` fetched by Python's urllib (which speaks IPv6).
    static func fetch(_ url: String) throws -> Data {
        let fetcher = Process()
        let output = Pipe()
        fetcher.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fetcher.arguments = ["python3", "-c", "import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())", url]
        fetcher.standardOutput = output
        try fetcher.run()
        let body = output.fileHandleForReading.readDataToEndOfFile()
        fetcher.waitUntilExit()
        guard fetcher.terminationStatus == 0 else { throw OurTrackerTests.HTTPFailure("cannot fetch \(url)") }
        return body
    }

    static func announce(peer: Int, extra: String = "") -> String {
        "/announce?info_hash=\(String(repeating: "%02", count: 20))&peer_id=\(String(format: "-TT0001-%012d", peer))&port=\(7000 + peer)&left=5\(extra)"
    }

    static func peers(_ port: Int) throws -> Double? {
        String(decoding: try OurTrackerTests.get(port: port, "/metrics"), as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("swarm_tracker_peers ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    @Test(.enabled(if: isListenable(host: "::1"), "needs IPv6 on loopback"))
    func ipv6PeersStoppedPeersAndExpiry() async throws {
        let workspace = try Workspace()
        let http = freePort()
        _ = try await workspace.startTracker(arguments: ["-host", "::", "-http-port", "\(http)", "-announce-interval", "3", "-min-interval", "0"])
        await waitUntil("the HTTP front end listens") { isListening(port: http) }
        _ = try OurTrackerTests.get(port: http, Self.announce(peer: 1))  // from 127.0.0.1
        _ = try Self.fetch("http://[::1]:\(http)\(Self.announce(peer: 2))")  // from ::1
        let both = try OurTrackerTests.get(port: http, Self.announce(peer: 3))
        #expect(both.range(of: Data("5:peers6:".utf8) + Data([127, 0, 0, 1, 0x1b, 0x59])) != nil, "peer 1 in peers: \(both)")
        #expect(both.range(of: Data("6:peers618:".utf8) + Data([UInt8](repeating: 0, count: 15) + [1, 0x1b, 0x5a])) != nil, "peer 2 in peers6: \(both)")
        _ = try Self.fetch("http://[::1]:\(http)\(Self.announce(peer: 2, extra: "&event=stopped"))")
        let after = try OurTrackerTests.get(port: http, Self.announce(peer: 3))
        #expect(after.range(of: Data("6:peers6".utf8)) == nil && after.range(of: Data("10:incompletei3e".utf8)) == nil, "peer 2 gone: \(String(decoding: after, as: UTF8.self))")
        // Nobody announces again: two intervals (6 s) later the sweep has dropped them all.
        await waitUntil("silent peers expire", timeout: .seconds(30)) { (try? Self.peers(http)) == 0 }
        #expect(try Self.peers(http) == 0)
        await workspace.tearDown()
    }
}

/// Whether a TCP socket can be bound to `host` (e.g. "::1" where the machine has IPv6 loopback).
func isListenable(host: String) -> Bool {
    let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return false }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    } == 0
}
