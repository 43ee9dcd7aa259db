import Foundation
import Testing

/// The `tracker` command's flags: bad values are refused by name, good ones take effect.
@Suite struct TrackerCommandTests {
    @Test(arguments: [
        (["-port", "70000"], "-port 70000 is not a TCP port"),
        (["-quorum", "0"], "-quorum must be at least 1"),
        (["-threads", "0"], "-threads must be from 1 to 256"),
        (["-max-connections", "0"], "-max-connections and -max-registrations must be positive"),
        (["-stats-interval=-1"], "-stats-interval must be 0 (none) or more"),
        (["-http-port", "70000"], "-http-port 70000 is not a port"),
        (["-udp-port", "0"], "-udp-port 0 is not a port"),
        (["-port", "6000", "-http-port", "6000"], "-http-port 6000 is the classic -port too"),
        (["-announce-interval", "0"], "-announce-interval must be at least 1 second"),
        (["-min-interval", "5000"], "-min-interval must be from 0 to -announce-interval (1800)"),
        (["-max-numwant", "0"], "-max-numwant must be from 1 to 10000"),
        (["-bittorrent-threads", "0"], "-bittorrent-threads must be from 1 to 256"),
        (["-http-timeout", "0"], "-http-timeout must be above 0"),
    ])
    func badFlagValueIsRefusedByName(_ arguments: [String], _ expected: String) async throws {
        let workspace = try Workspace()
        let tracker = try workspace.start("tracker", Paths.tracker, arguments)
        await waitUntil("the tracker exits") { !tracker.isRunning }
        #expect(tracker.process.terminationStatus != 0)
        #expect(tracker.output.contains(expected), "got: \(tracker.output)")
        await workspace.tearDown()
    }

    /// A port that cannot be listened on is a fault to fix, not a wrong flag: said plainly, with
    /// the cure, exit 1 and no usage text; the first tracker on the port is not disturbed.
    /// (192.0.2.1, reserved for documentation, is not an address of this machine; where the
    /// system lets programs bind addresses that are not theirs, that case is skipped.)
    @Test(arguments: [
        ("in use", "127.0.0.1", "the port is in use (a tracker or client still running?); pick another with -port"),
        ("not here", "192.0.2.1", "192.0.2.1 is not an address of this machine"),
    ].filter { $0.0 == "in use" || onlyLocalAddressesBind() })
    func portThatCannotBeListenedOnIsSaidPlainly(_ name: String, _ host: String, _ expected: String) async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker()
        let second = try workspace.start("second", Paths.tracker, ["-host", host, "-port", "\(port)"])
        await waitUntil("the second tracker exits (\(name))") { !second.isRunning }
        #expect(second.process.terminationStatus == 1)
        #expect(second.output.contains("Error: cannot listen on \(host):\(port): \(expected)"), "got: \(second.output)")
        #expect(!second.output.contains("Usage:"), "got: \(second.output)")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1", "the first still answers")
        await workspace.tearDown()
    }

    @Test func severalThreadsServeTheSameRegistry() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-threads", "4"])
        let digest = String(repeating: "d", count: 40)
        let link = try #require(connectLoopback(port: port))
        defer { close(link) }
        send("LOCAL_CHUNKS,3,\(digest),127.0.0.1,6003\n", to: link)
        // Connections land on different threads; each must see the registration.
        await waitUntil("every connection sees the registration") {
            (0..<8).allSatisfy { _ in ask(trackerPort: port, "WHERE_CHUNK,3") == "GET_CHUNK_FROM,3,\(digest),127.0.0.1,6003" }
        }
        await workspace.tearDown()
    }

    /// Questions and answers go to `logger.log` in the seed's format; the console shows them
    /// only with `-verbose`.
    @Test(arguments: [false, true])
    func messagesAreLoggedAndShownOnlyWhenVerbose(_ verbose: Bool) async throws {
        let workspace = try Workspace()
        let (tracker, port) = try await workspace.startTracker(arguments: ["-stats-interval", "0.2"] + (verbose ? ["-verbose"] : []))
        #expect(ask(trackerPort: port, "WHERE_CHUNK,5") == "CHUNK_LOCATION_UNKNOWN,5")
        await waitUntil("logger.log records the question and the answer") {
            workspace.log.contains("P2PTracker,WHERE_CHUNK,5\nP2PTracker,CHUNK_LOCATION_UNKNOWN,5\n")
        }
        // The summary is written to the console after the question's lines would have been.
        await waitUntil("the console summarizes the question") { tracker.output.contains("1 WHERE_CHUNK, 0 LOCAL_CHUNKS") }
        #expect(tracker.output.contains("info P2PTracker: WHERE_CHUNK,5") == verbose, "\(tracker.output)")
        #expect(tracker.output.contains("info P2PTracker: CHUNK_LOCATION_UNKNOWN,5") == verbose, "\(tracker.output)")
        await workspace.tearDown()
    }

    @Test func consoleSummarizesWhatWasAsked() async throws {
        let workspace = try Workspace()
        let (tracker, port) = try await workspace.startTracker(arguments: ["-stats-interval", "0.2"])
        let digest = String(repeating: "e", count: 40)
        #expect(ask(trackerPort: port, "LOCAL_CHUNKS,7,\(digest),127.0.0.1,6007\nWHERE_CHUNK,7") == "GET_CHUNK_FROM,7,\(digest),127.0.0.1,6007")
        await waitUntil("a summary names the question and the registration") {
            tracker.output.contains("1 WHERE_CHUNK, 1 LOCAL_CHUNKS; now")
        }
        #expect(tracker.output.contains("1 chunks, 1 registrations"), "\(tracker.output)")
        await workspace.tearDown()
    }

    /// Each stop signal (SIGHUP: its terminal closed) ends the tracker with exit 0 and its last
    /// questions in `logger.log`, which is written in batches.
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func stopSignalEndsTheTrackerCleanlyWithItsLogWritten(signal: Int32) async throws {
        let workspace = try Workspace()
        let (tracker, port) = try await workspace.startTracker()
        #expect(ask(trackerPort: port, "WHERE_CHUNK,9") == "CHUNK_LOCATION_UNKNOWN,9")
        #expect(await tracker.stop(signal: signal) == 0, "stops cleanly on signal \(signal)")
        #expect(workspace.log.contains("P2PTracker,WHERE_CHUNK,9\n"), "\(workspace.log)")
        await workspace.tearDown()
    }
}
