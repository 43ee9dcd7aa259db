import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `client -demo`, headless: a whole swarm in one process, on loopback.
@Suite struct DemoTests {
    /// The demo's swarm fetches for real; a closed terminal (SIGHUP) stops it as cleanly as
    /// SIGTERM does, and either way its temporary folder is removed, though its simulated
    /// leecher (started 2 s in) is fetching into it when the signal comes.
    @Test(arguments: [SIGHUP, SIGTERM])
    func demoFetchesThenStopsCleanlyAndRemovesItsFolder(signal: Int32) async throws {
        let workspace = try Workspace()
        let demo = try workspace.start("demo", Paths.client, ["-demo", "-headless", "-chunks", "256"])
        await waitUntil("the demo fetches two chunks", timeout: .seconds(60)) { ReliabilityTests.fetched(in: demo.output).count >= 2 }
        let folder = try #require(Self.folder(in: demo.output), "the demo says where its folder is: \(demo.output)")
        #expect(FileManager.default.fileExists(atPath: folder))
        await waitUntil("the simulated leecher has fetched a chunk", timeout: .seconds(60)) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/leecher")) ?? []
            return names.contains { $0.hasPrefix("chunk_") }
        }
        #expect(await demo.stop(signal: signal) == 0, "stops cleanly on signal \(signal)")
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) is removed")
        await workspace.tearDown()
    }

    /// A stop signal while a big demo writes its peers' folders (seconds for 100,000 chunks)
    /// ends it there, with exit 0 and its folder removed.
    @Test func stopSignalWhilePreparingEndsTheDemoAndRemovesItsFolder() async throws {
        let workspace = try Workspace()
        let demo = try workspace.start("demo", Paths.client, ["-demo", "-headless", "-chunks", "100000"])
        await waitUntil("the demo says it is writing its folders") { demo.output.contains(" for a file of 100000 chunks") }
        let said = demo.output
        let start = try #require(said.range(of: "writing the peers' folders in "))
        let end = try #require(said[start.upperBound...].range(of: " for a file of"))
        let folder = String(said[start.upperBound..<end.lowerBound])
        // Once: the signals are trapped before the demo says what it is doing.
        #expect(await demo.stop(signal: SIGINT, timeout: .seconds(30)) == 0, "\(demo.output)")
        #expect(!demo.output.contains("] you: 0/"), "stopped before the swarm started")
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) is removed")
        await workspace.tearDown()
    }

    /// A big demo says on standard error that it writes and later removes its folder; with
    /// nobody left to read it (the terminal closed, a pipe's reader gone), those writes fail
    /// (EPIPE, and SIGPIPE before the demo has a socket), and the demo must go on, then still
    /// remove its folder, with exit 0.
    @Test func demoWhoseStandardErrorIsGoneStillRemovesItsFolder() async throws {
        let workspace = try Workspace()
        let errors = Pipe()
        let demo = try workspace.start("demo", Paths.client, ["-demo", "-headless", "-chunks", "10000"], errors: errors)
        try errors.fileHandleForReading.close()
        await waitUntil("the demo's swarm runs", timeout: .seconds(60)) { Self.folder(in: demo.output) != nil }
        let folder = try #require(Self.folder(in: demo.output), "the demo runs: \(demo.output)")
        #expect(await demo.stop(signal: SIGHUP, timeout: .seconds(30)) == 0, "stops cleanly: \(demo.output)")
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) is removed")
        await workspace.tearDown()
    }

    /// The demo's folder, from its first line: `[you] you: 0/256 chunks in <folder>/you; serving on …`.
    static func folder(in output: String) -> String? {
        guard let start = output.range(of: " chunks in "), let end = output[start.upperBound...].range(of: "/you;") else { return nil }
        return String(output[start.upperBound..<end.lowerBound])
    }
}
