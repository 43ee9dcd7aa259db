import Foundation
import NetworkLab
import SwarmCore
import Testing

/// The classic swarm between hosts that are not loopback: a tracker host, two seeder hosts and a
/// leecher host, each a network namespace of its own (``NetworkLab``), running the real
/// `tracker` and `client` with no `-advertise`. Skipped, saying why, where namespaces cannot be
/// made (not root). One lab at a time: each starts five processes, and the rest of the suite
/// shares the machine.
@Suite(.serialized, .enabled(if: NetworkLab.unavailability() == nil, Comment(rawValue: NetworkLab.unavailability() ?? "")))
struct NetworkNamespaceTests {
    /// One run of the swarm on a lab's hosts.
    struct Swarm {
        let workspace: Workspace
        let lab: NetworkLab

        /// Starts `executable` on `host`.
        @discardableResult
        func start(_ name: String, on host: NetworkLab.Host, _ executable: URL, _ arguments: [String]) throws -> TestProcess {
            let (program, wrapped) = host.command(executable.path, arguments)
            return try workspace.start(name, URL(fileURLWithPath: program), wrapped)
        }

        /// A tracker on `host`, listening on every address; returns once it listens.
        @discardableResult
        func startTracker(on host: NetworkLab.Host) async throws -> TestProcess {
            let tracker = try start("tracker-\(host.namespace)", on: host, Paths.tracker, ["-host", "::", "-port", "5100"])
            await waitUntil("the tracker on \(host.namespace) listens") { tracker.output.contains("listening") }
            return tracker
        }

        /// Shares `file` from `host` with `trackers`, no -advertise; returns once registered as
        /// the host's own address.
        @discardableResult
        func startSeeder(_ name: String, on host: NetworkLab.Host, file: URL, trackers: String) async throws -> TestProcess {
            let seeder = try start(name, on: host, Paths.client, [
                "-share", file.path, "-chunk-size", "1024", "-folder", workspace.root.appendingPathComponent(name).path,
                "-transfer_port", "6001", "-name", name, "-tracker", trackers, "-headless",
            ])
            await waitUntil("\(name) registers as its host's address", timeout: .seconds(60)) {
                seeder.output.contains("as \(host.address(port: 6001))")
            }
            return seeder
        }

        /// Fetches the `chunks` of the file on `host` into OUT and returns OUT, the leecher's
        /// output and how long it took; records an issue when it fails.
        func fetch(on host: NetworkLab.Host, chunks: Int, trackers: String, timeout: Duration = .seconds(120)) async throws -> (URL, String, Duration) {
            let out = workspace.root.appendingPathComponent("fetched.bin")
            let started = ContinuousClock.now
            let leecher = try start("leecher", on: host, Paths.client, [
                "-folder", workspace.root.appendingPathComponent("leecher").path, "-chunks", "\(chunks)",
                "-assemble", out.path, "-exit-when-complete", "-transfer_port", "6001", "-name", "leecher", "-tracker", trackers, "-headless",
            ])
            #expect(await workspace.exitStatus(of: leecher, timeout: timeout) == 0, "\(leecher.output)")
            return (out, leecher.output, ContinuousClock.now - started)
        }
    }

    /// Runs `body` with a new lab, made and shut down on threads of their own (each runs `ip` a
    /// dozen times and waits: on the cooperative pool that would stall every other test's waits
    /// and deadlines), shut down also when `body` throws.
    static func withLab<T: Sendable>(
        hosts: Int, links: NetworkLab.Links = .bridge, ipv4: Bool = true, _ body: (NetworkLab) async throws -> T
    ) async throws -> T {
        let lab = try await onOwnThread { Result { try NetworkLab(hosts: hosts, links: links, ipv4: ipv4) } }.get()
        do {
            let result = try await body(lab)
            await onOwnThread { lab.shutdown() }
            return result
        } catch {
            await onOwnThread { lab.shutdown() }
            throw error
        }
    }

    /// A file of 6 MiB and 123 bytes: 7 chunks of up to 1 MiB.
    static func makeFile(in workspace: Workspace) throws -> (URL, Data) {
        let file = workspace.root.appendingPathComponent("shared.bin")
        let bytes = Workspace.content(of: 19, size: 6 << 20 + 123)
        try bytes.write(to: file)
        return (file, bytes)
    }

    /// Tracker, two seeders and a leecher on hosts of their own; the leecher's copy is checked
    /// byte for byte, and every chunk came from a seeder's own address. Returns the time it took.
    @discardableResult
    static func shareAcrossHosts(links: NetworkLab.Links = .bridge, ipv4: Bool = true) async throws -> Duration? {
        try await withLab(hosts: 4, links: links, ipv4: ipv4) { lab in try await shareAcrossHosts(lab, links: links) }
    }

    static func shareAcrossHosts(_ lab: NetworkLab, links: NetworkLab.Links) async throws -> Duration? {
        let workspace = try Workspace()
        let swarm = Swarm(workspace: workspace, lab: lab)
        let (file, bytes) = try makeFile(in: workspace)
        let trackerHost = lab.hosts[0]
        let tracker = trackerHost.address(port: 5100)
        try await swarm.startTracker(on: trackerHost)
        for (name, host) in [("seeder1", lab.hosts[1]), ("seeder2", lab.hosts[2])] {
            try await swarm.startSeeder(name, on: host, file: file, trackers: tracker)
        }
        let (out, output, took) = try await swarm.fetch(on: lab.hosts[3], chunks: 7, trackers: tracker)
        #expect((try? Data(contentsOf: out)) == bytes, "the leecher's copy is the file")
        let sources = Set(output.split(separator: "\n").compactMap { line in
            line.contains("fetched chunk") ? line.split(separator: " ").dropFirst(5).first.map { String($0.dropLast()) } : nil
        })
        let seeders = [lab.hosts[1].address(port: 6001), lab.hosts[2].address(port: 6001)]
        #expect(!sources.isEmpty && sources.isSubset(of: seeders), "fetched only from the seeders' own addresses: \(sources)")
        #expect(output.contains("as \(lab.hosts[3].address(port: 6001))"), "the leecher registers as its host's address: \(output)")
        if case .relay(_, let loss) = links, let relayed = lab.relayed {
            let share = Double(relayed.dropped) / Double(max(relayed.frames, 1))
            #expect(relayed.frames > 4000 && abs(share - loss) < loss / 2, "the relay dropped \(relayed.dropped) of \(relayed.frames) frames")
        }
        await workspace.tearDown()
        return took
    }

    @Test func aFileCrossesFromTwoSeederHostsToALeecherHost() async throws {
        try await Self.shareAcrossHosts()
    }

    @Test func theSameOverIPv6Only() async throws {
        try await Self.shareAcrossHosts(ipv4: false)
    }

    /// Every link holds each frame 20 ms and loses 1 % of them (a round trip of 40 ms).
    @Test func theSameWith20msDelayAndOnePercentLoss() async throws {
        let took = try await Self.shareAcrossHosts(links: .relay(delay: .milliseconds(20), loss: 0.01))
        print("NetworkNamespaceTests: 6 MiB from two seeder hosts over links of 20 ms and 1 % loss took \(took.map { String(format: "%.2f s", $0.seconds) } ?? "-")")
    }

    /// The seeder registers with two trackers; one is killed before the leecher starts, which
    /// then fetches everything through the other.
    @Test func oneOfTwoTrackersKilledBeforeTheLeecherStarts() async throws {
        try await Self.withLab(hosts: 4) { lab in try await Self.oneOfTwoTrackersKilled(lab) }
    }

    static func oneOfTwoTrackersKilled(_ lab: NetworkLab) async throws {
        let workspace = try Workspace()
        let swarm = Swarm(workspace: workspace, lab: lab)
        let (file, bytes) = try makeFile(in: workspace)
        let first = try await swarm.startTracker(on: lab.hosts[0])
        try await swarm.startTracker(on: lab.hosts[1])
        let addresses = [lab.hosts[0].address(port: 5100), lab.hosts[1].address(port: 5100)]
        let trackers = addresses.joined(separator: ",")
        let seeder = try await swarm.startSeeder("seeder", on: lab.hosts[2], file: file, trackers: trackers)
        for tracker in addresses {
            await waitUntil("the seeder is connected to \(tracker)") { seeder.output.contains("tracker \(tracker) connected") }
        }
        #expect(await first.stop() == 0)
        let (out, output, _) = try await swarm.fetch(on: lab.hosts[3], chunks: 7, trackers: trackers)
        #expect((try? Data(contentsOf: out)) == bytes, "the leecher's copy is the file")
        #expect(output.contains("tracker \(addresses[0]) retrying"), "the killed tracker is retried: \(output)")
        await workspace.tearDown()
    }
}
