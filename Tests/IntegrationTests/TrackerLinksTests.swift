import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A classic client with several trackers (`-tracker h1:p1,h2:p2`) and with IPv6 ones, on
/// loopback; the same across hosts of their own is in ``NetworkNamespaceTests``.
@Suite struct ClassicTrackerLinksTests {
    /// Starts our client with exactly these arguments (`startClient` names one tracker).
    @discardableResult
    func client(_ workspace: Workspace, _ name: String, folder: String, port: Int, _ arguments: [String]) throws -> TestProcess {
        try workspace.start(name, Paths.client, ["-folder", workspace.root.appendingPathComponent(folder).path, "-transfer_port", "\(port)", "-name", name, "-headless"] + arguments)
    }

    /// Registered with both trackers; one killed, the leecher still fetches everything through the
    /// other; started again on its port, it is registered with again.
    @Test func theSwarmGoesOnWhileOneTrackerOfTwoAnswers() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 6)
        let port = try await workspace.prepareSwarm(file, emptyFolder: "leecher")
        let (second, secondPort) = try await workspace.startTracker()
        let trackers = ["-tracker", "127.0.0.1:\(port),127.0.0.1:\(secondPort)"]
        let seederPort = freePort()
        let seeder = try client(workspace, "seeder", folder: "seeder", port: seederPort, trackers)
        func listsTheSeeder(_ trackerPort: Int) -> Bool {
            guard let answer = ask(trackerPort: trackerPort, "WHERE_CHUNK,1") else { return false }
            return answer.hasPrefix("GET_CHUNK_FROM,1,") && answer.hasSuffix(",127.0.0.1,\(seederPort)")
        }
        for trackerPort in [port, secondPort] {
            await waitUntil("the seeder registered with the tracker on \(trackerPort)") { listsTheSeeder(trackerPort) }
        }
        #expect(await second.stop() == 0)
        await waitUntil("the seeder sees the second tracker gone") { seeder.output.contains("tracker 127.0.0.1:\(secondPort) retrying") }
        #expect(seeder.output.contains("tracker connected"), "one tracker is enough: \(seeder.output)")

        let leecher = try client(workspace, "leecher", folder: "leecher", port: freePort(), trackers + ["-exit-when-complete"])
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)

        let again = try workspace.start("tracker-again", Paths.tracker, ["-port", "\(secondPort)"])
        await waitUntil("the second tracker is back", timeout: .seconds(20)) { listsTheSeeder(secondPort) }
        #expect(again.isRunning)
        await workspace.tearDown()
    }

    /// A tracker that takes the connection and then answers nothing does not hold fetches up:
    /// the other tracker's holders are used after a second, and the stuck link is closed.
    @Test func aStuckTrackerDoesNotHoldFetchesUp() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 4)
        let port = try await workspace.prepareSwarm(file, emptyFolder: "leecher")
        let stuck = try StuckTracker()
        defer { stuck.stop() }
        let trackers = ["-tracker", "127.0.0.1:\(port),127.0.0.1:\(stuck.port)"]
        try client(workspace, "seeder", folder: "seeder", port: freePort(), ["-tracker", "127.0.0.1:\(port)"])
        await waitUntil("the seeder registered") { ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM") == true }
        let leecher = try client(workspace, "leecher", folder: "leecher", port: freePort(), trackers + ["-exit-when-complete"])
        #expect(await workspace.exitStatus(of: leecher, timeout: .seconds(40)) == 0, "\(leecher.output)")
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        #expect(stuck.connections >= 1, "the leecher dialled the stuck tracker")
        await workspace.tearDown()
    }

    /// A tracker on `::` serves an IPv4 seeder and an IPv6 one (`-tracker [::1]:PORT -advertise
    /// ::1`), each holding half the chunks (paused: they keep their halves); the leecher fetches
    /// from both.
    @Test(.enabled(if: isListenable(host: "::1"), "this machine has no IPv6 loopback"))
    func aDualStackSwarmIsFetchedFromBothFamilies() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 6)
        try workspace.makeFolder("v4", chunks: file.filter { $0.key <= 3 }, total: 6)
        try workspace.makeFolder("v6", chunks: file.filter { $0.key > 3 }, total: 6)
        try workspace.makeFolder("leecher", chunks: [:], total: 6)
        let (_, port) = try await workspace.startTracker(arguments: ["-host", "::"])
        let (v4Port, v6Port) = (freePort(), freePort())
        let v4 = try client(workspace, "v4", folder: "v4", port: v4Port, ["-tracker", "127.0.0.1:\(port)", "-paused"])
        let v6 = try client(workspace, "v6", folder: "v6", port: v6Port, ["-tracker", "[::1]:\(port)", "-advertise", "::1", "-paused"])
        let registered = await waitUntil("both registered") {
            ask(trackerPort: port, "WHERE_CHUNK,1")?.hasSuffix(",127.0.0.1,\(v4Port)") == true
                && ask(trackerPort: port, "WHERE_CHUNK,6")?.hasSuffix(",::1,\(v6Port)") == true
        }
        #expect(registered, "\(v4.output)\n\(v6.output)\n\(ask(trackerPort: port, "WHERE_CHUNK,1") ?? "")\n\(ask(trackerPort: port, "WHERE_CHUNK,4") ?? "")")
        let leecher = try client(workspace, "leecher", folder: "leecher", port: freePort(), ["-tracker", "[::1]:\(port)", "-exit-when-complete"])
        #expect(await workspace.exitStatus(of: leecher) == 0, "\(leecher.output)")
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        #expect(leecher.output.contains("from [::1]:\(v6Port)"), "fetched over IPv6: \(leecher.output)")
        #expect(leecher.output.contains("from 127.0.0.1:\(v4Port)"), "fetched over IPv4: \(leecher.output)")
        await workspace.tearDown()
    }

    /// Each bad tracker list is refused by name, before anything starts.
    @Test(arguments: [
        ("127.0.0.1:5100,", "-tracker \"\" (in \"127.0.0.1:5100,\") is not HOST:PORT"),
        ("127.0.0.1:5100,::1:5100", "-tracker \"::1:5100\" (in \"127.0.0.1:5100,::1:5100\") is not HOST:PORT"),
        ("[::1]:5100,[::1]:5100", "-tracker names [::1]:5100 twice"),
        ("[::1]5100", "-tracker \"[::1]5100\" is not HOST:PORT"),
    ])
    func badTrackerListsAreRefused(_ list: String, _ expected: String) async throws {
        let workspace = try Workspace()
        try workspace.makeFolder("f", chunks: [:], total: 1)
        let refused = try client(workspace, "c", folder: "f", port: freePort(), ["-tracker", list])
        #expect(await workspace.exitStatus(of: refused) != 0)
        #expect(refused.output.contains(expected), "\(refused.output)")
        await workspace.tearDown()
    }
}

/// A tracker that accepts connections, answers the opening question so the client counts it up,
/// and then answers nothing more: stuck.
final class StuckTracker: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var accepted: [Int32] = []
    private var stopped = false

    init() throws {
        port = freePort()
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// How many connections it took.
    var connections: Int { lock.withLock { accepted.count } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let keep = lock.withLock { () -> Bool in
                guard !stopped else { return false }
                accepted.append(connection)
                return true
            }
            guard keep else {
                close(connection)
                return
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var bytes = [UInt8](repeating: 0, count: 256)
            let count = read(connection, &bytes, bytes.count)
            guard count > 0, let question = String(bytes: bytes[..<count], encoding: .utf8), question.hasPrefix("WHERE_CHUNK,") else { continue }
            let index = question.dropFirst("WHERE_CHUNK,".count).prefix { $0.isNumber }
            _ = send("CHUNK_LOCATION_UNKNOWN,\(index)\n", to: connection)
        }
    }

    /// Closes the listener and every connection taken.
    func stop() {
        let open = lock.withLock { () -> [Int32] in
            stopped = true
            return accepted
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for connection in open { close(connection) }
    }
}
