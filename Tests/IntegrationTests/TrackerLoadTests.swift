import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Many clients at one tracker at once. `swift test` runs 200 connections × 20 chunks; the full
/// size (1,000 × 100) is `SWARM_LOAD_CONNECTIONS=1000 SWARM_LOAD_CHUNKS=100 swift test --filter TrackerLoadTests`.
@Suite(.serialized)
struct TrackerLoadTests {
    static let environment = ProcessInfo.processInfo.environment
    static let connections = Int(environment["SWARM_LOAD_CONNECTIONS"] ?? "") ?? 200
    static let chunks = Int(environment["SWARM_LOAD_CHUNKS"] ?? "") ?? 20

    @Test func concurrentConnectionsRegisterThenQueryAndAreAllAnsweredCorrectly() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-check-interval", "3600"])
        // Every connection is open before any registers: they are all concurrent.
        var sockets: [Int32] = []
        for _ in 0..<Self.connections { sockets.append(try #require(connectLoopback(port: port))) }
        defer { for socket in sockets { close(socket) } }
        let digest = String(repeating: "e", count: 40)
        for (number, socket) in sockets.enumerated() {
            let lines = (1...Self.chunks).map { "LOCAL_CHUNKS,\($0),\(digest),127.0.0.1,\(10_000 + number)\n" }
            send(lines.joined(), to: socket)
        }
        let (measured, wrong) = await onOwnThread { [sockets] in
            var latencies: [Double] = []
            var wrong = 0
            for (number, socket) in sockets.enumerated() {
                let index = 1 + number % Self.chunks
                let started = ContinuousClock.now
                send("WHERE_CHUNK,\(index)\n", to: socket)
                var answer = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 65536)
                let deadline = started + .seconds(20)
                while !answer.contains(UInt8(ascii: "\n")) {
                    let count = read(socket, &buffer, buffer.count)
                    // A busy tracker may take longer than the socket's 2 s read timeout: keep waiting.
                    if count < 0 && errno == EAGAIN && ContinuousClock.now < deadline { continue }
                    guard count > 0 else { break }
                    answer += buffer[0..<count]
                }
                let elapsed = ContinuousClock.now - started
                latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                let text = String(decoding: answer, as: UTF8.self)
                // This connection registered the chunk before asking (same connection, in order), so
                // its own holder must be listed; others may still be registering.
                if !text.hasPrefix("GET_CHUNK_FROM,\(index),\(digest),") || !text.contains(",127.0.0.1,\(10_000 + number)") { wrong += 1 }
            }
            return (latencies, wrong)
        }
        #expect(wrong == 0, "\(wrong) wrong answers")
        // Once everyone is in, every chunk lists every holder.
        await waitUntil("all registrations are in") {
            (ask(trackerPort: port, "WHERE_CHUNK,\(Self.chunks)")?.split(separator: ",").count ?? 0) == 3 + 2 * Self.connections
        }
        let latencies = measured.sorted()
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        print("tracker load: \(Self.connections) connections x \(Self.chunks) chunks; WHERE_CHUNK latency p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms")
        await workspace.tearDown()
    }
}
