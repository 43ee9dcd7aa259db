import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Peers that die or get flooded.
@Suite(.serialized)
struct PeerFaultTests {
    @Test func peerKilledMidTransferLeavesNothingAndTheChunkComesFromElsewhere() async throws {
        let workspace = try Workspace()
        let big = Workspace.content(of: 1, size: 2 << 20)
        try workspace.makeFolder("slow", chunks: [1: big], total: 1)
        try workspace.makeFolder("other", chunks: [1: big], total: 1)
        try workspace.makeFolder("leecher", chunks: [:], total: 1)
        let (_, port) = try await workspace.startTracker()
        let slow = try workspace.startClient("slow", folder: "slow", trackerPort: port, extra: ["-upload-limit", "256"])
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port)
        await waitUntil("the transfer from the slow peer is under way") {
            leecher.output.contains("requested chunk 1 from") && slow.output.contains("registered")
        }
        // Let some bytes flow, then kill the sender.
        let partial = workspace.root.appendingPathComponent("leecher")
        await waitUntil("a partial file exists") {
            ((try? FileManager.default.contentsOfDirectory(atPath: partial.path)) ?? []).contains { $0.hasPrefix(".swarm-partial-") }
        }
        await slow.stop(signal: SIGKILL)
        await waitUntil("the broken transfer is reported") { leecher.output.contains("chunk 1 from") && leecher.output.contains("transfer") || leecher.output.contains("expected") }
        #expect(workspace.listedChunks("leecher").isEmpty, "the partial chunk is never listed")
        try workspace.startClient("other", folder: "other", trackerPort: port)
        await waitUntil("the chunk comes from the other holder", timeout: .seconds(60)) { workspace.listedChunks("leecher") == [1] }
        #expect(workspace.chunk(1, in: "leecher") == big)
        let names = try FileManager.default.contentsOfDirectory(atPath: partial.path)
        #expect(Set(names) == ["chunk_1", "local_chunks.txt"], "no partial file is left: \(names)")
        await workspace.tearDown()
    }

    /// Sends `request` on a new connection and reads to end of stream; `nil` if refused.
    static func exchange(_ request: String, port: Int) -> (String, Data?) {
        guard let socket = connectLoopback(port: port) else { return (request, nil) }
        defer { close(socket) }
        send(request, to: socket)
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            guard count > 0 else { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return (request, received)
    }

    @Test func twoHundredSimultaneousRequestsAreServedWithoutLeakingDescriptors() async throws {
        let workspace = try Workspace()
        let data = Workspace.content(of: 7, size: 100_000)
        try workspace.makeFolder("seeder", chunks: [1: data], total: 2)
        let transferPort = freePort()
        let seeder = try workspace.start(
            "seeder", Paths.client,
            ["-folder", workspace.root.appendingPathComponent("seeder").path, "-transfer_port", "\(transferPort)",
             "-name", "seeder", "-tracker", "127.0.0.1:\(freePort())", "-headless"])
        await waitUntil("the seeder listens") { isListening(port: transferPort) }
        let before = openDescriptors(of: seeder.process.processIdentifier)

        let requests = ["REQUEST_CHUNK,1"] + ["REQUEST_CHUNK,2", "REQUEST_CHUNK,0", "REQUEST_CHUNK,-1", "REQUEST_CHUNK,abc", "GARBAGE"]
        let results = await withTaskGroup(of: (String, Data?).self) { group in
            for number in 0..<200 {
                let request = number % 4 == 0 ? requests[1 + number / 4 % 5] : requests[0]
                group.addTask {
                    await onOwnThread { Self.exchange(request, port: transferPort) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (request, received) in results {
            if request == "REQUEST_CHUNK,1" {
                #expect(received == data, "the listed chunk is served whole")
            } else {
                #expect(received == Data(), "\(request) gets no data")
            }
        }
        let settled = await waitUntil("descriptors go back to where they were") {
            openDescriptors(of: seeder.process.processIdentifier).count <= before.count
        }
        if !settled {
            let after = openDescriptors(of: seeder.process.processIdentifier)
            Issue.record("before: \(before.values.sorted()); after: \(after.values.sorted())")
        }
        await workspace.tearDown()
    }
}

/// What each open socket and file of process `pid` refers to, by descriptor number: what serving
/// a chunk opens (a connection, the chunk's file). The event descriptors the runtimes make for
/// themselves (`timerfd`, `eventfd`, `eventpoll`) are left out: libdispatch makes a timer
/// descriptor the first time a clock is used, at a moment of its own, and one made during the
/// test is no leak.
func openDescriptors(of pid: Int32) -> [String: String] {
    let directory = "/proc/\(pid)/fd"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    let targets = names.map { ($0, (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)")) ?? "?") }
    return Dictionary(uniqueKeysWithValues: targets.filter { !$0.1.hasPrefix("anon_inode:") })
}
