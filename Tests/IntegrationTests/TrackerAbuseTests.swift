import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile input at the real tracker: it closes the offending connection only.
@Suite(.serialized)
struct TrackerAbuseTests {
    static let hash = String(repeating: "a", count: 40)
    static let inputs: [(String, String)] = [
        ("4 KiB without a terminator", String(repeating: "W", count: 4096)),
        ("binary garbage", String(decoding: (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self)),
        ("unknown verb", "HELLO,1\n"),
        ("index zero", "WHERE_CHUNK,0\n"),
        ("negative index", "WHERE_CHUNK,-3\n"),
        ("huge index", "WHERE_CHUNK,99999999999999999999\n"),
        ("index not a number", "WHERE_CHUNK,abc\n"),
        ("short hash", "LOCAL_CHUNKS,1,abc,127.0.0.1,6000\n"),
        ("port 0", "LOCAL_CHUNKS,1," + hash + ",127.0.0.1,0\n"),
        ("port 70000", "LOCAL_CHUNKS,1," + hash + ",127.0.0.1,70000\n"),
        ("bad holder", "LOCAL_CHUNKS,1," + hash + ",not a host!,6000\n"),
    ]

    /// Sends `text` on a new connection; whether the tracker then closed it (within 2 s).
    func isClosedAfterSending(_ text: String, port: Int) -> Bool {
        guard let descriptor = connectLoopback(port: port) else { return false }
        defer { close(descriptor) }
        if !text.isEmpty { send(text, to: descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        // Closed with our bytes unread, the kernel resets instead of a clean end of stream.
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    @Test(arguments: inputs.indices)
    func badInputClosesThatConnectionOnly(_ position: Int) async throws {
        let (name, input) = Self.inputs[position]
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker()
        let digest = String(repeating: "b", count: 40)
        let persistent = try #require(connectLoopback(port: port))
        defer { close(persistent) }
        send("LOCAL_CHUNKS,2,\(digest),127.0.0.1,6001\n", to: persistent)
        let closed = isClosedAfterSending(input, port: port)
        #expect(closed, "\(name): connection closed")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,2") == "GET_CHUNK_FROM,2,\(digest),127.0.0.1,6001", "\(name): others still served")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1", "\(name): registry unchanged")
        await workspace.tearDown()
    }

    @Test func silentConnectionIsClosed() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-idle-timeout", "0.5"])
        #expect(isClosedAfterSending("", port: port), "a silent connection is closed")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1", "a client that speaks is answered")
        await workspace.tearDown()
    }

    /// Opens a link that asks `WHERE_CHUNK,1` and waits up to 15 s for the verdict: the open
    /// descriptor once answered, or why not (refused, closed unanswered, no answer).
    static func openLink(port: Int) -> Result<Int32, LinkRefusal> {
        guard let descriptor = connectLoopback(port: port) else { return .failure(LinkRefusal("connect: \(String(cString: strerror(errno)))")) }
        send("WHERE_CHUNK,1\n", to: descriptor)
        let deadline = ContinuousClock.now + .seconds(15)
        var buffer = [UInt8](repeating: 0, count: 64)
        var count = read(descriptor, &buffer, buffer.count)
        // A slow tracker leaves the read timed out (EAGAIN): that is no verdict yet.
        while count < 0, errno == EAGAIN, ContinuousClock.now < deadline { count = read(descriptor, &buffer, buffer.count) }
        let failure = count < 0 ? String(cString: strerror(errno)) : "end of stream"
        guard count > 0 else {
            close(descriptor)
            return .failure(LinkRefusal("read: \(failure)"))
        }
        return .success(descriptor)
    }

    struct LinkRefusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func connectionsBeyondTheCapAreRefusedAndPlacesComeBack() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-max-connections", "3"])
        // The start-up probes may hold places for a moment: retry until three links are answered.
        let (held, refusals) = await onOwnThread {
            var held: [Int32] = []
            var refusals: [String] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while held.count < 3, refusals.count < 100, ContinuousClock.now < deadline {
                switch Self.openLink(port: port) {
                case .success(let link): held.append(link)
                case .failure(let refusal): refusals.append(refusal.description)
                }
            }
            return (held, refusals)
        }
        #expect(held.count == 3, "three links are admitted (refused: \(refusals))")
        let fourth = await onOwnThread { Self.openLink(port: port) }
        if case .success(let link) = fourth { close(link) }
        #expect(throws: LinkRefusal.self, "a fourth connection is refused") { try fourth.get() }
        await waitUntil("the refusal is logged") { workspace.log.contains("refusing a connection: 3 already open") }
        for link in held { close(link) }
        await waitUntil("places come back when connections close") {
            ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1"
        }
        await workspace.tearDown()
    }
}
