import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `client -demo`, headless: a whole swarm in one process, on loopback.
@Suite struct DemoTests {
    /// The demo's swarm fetches for real; a closed terminal (SIGHUP) stops it as cleanly as
    /// SIGTERM does, and either way its temporary folder is removed.
    @Test(arguments: [SIGHUP, SIGTERM])
    func demoFetchesThenStopsCleanlyAndRemovesItsFolder(signal: Int32) async throws {
        let workspace = try Workspace()
        let demo = try workspace.start("demo", Paths.client, ["-demo", "-headless", "-chunks", "256"])
        await waitUntil("the demo fetches two chunks", timeout: .seconds(60)) { ReliabilityTests.fetched(in: demo.output).count >= 2 }
        let folder = try #require(Self.folder(in: demo.output), "the demo says where its folder is: \(demo.output)")
        #expect(FileManager.default.fileExists(atPath: folder))
        #expect(await demo.stop(signal: signal) == 0, "stops cleanly on signal \(signal)")
        #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) is removed")
        await workspace.tearDown()
    }

    /// The demo's folder, from its first line: `[you] you: 0/256 chunks in <folder>/you; serving on …`.
    static func folder(in output: String) -> String? {
        guard let start = output.range(of: " chunks in "), let end = output[start.upperBound...].range(of: "/you;") else { return nil }
        return String(output[start.upperBound..<end.lowerBound])
    }
}
