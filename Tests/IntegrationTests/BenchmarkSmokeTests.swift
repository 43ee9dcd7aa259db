import Foundation
import Testing

/// A tiny run of `swarm-bench`, so the benchmark keeps working; the full run is the README's command.
@Suite struct BenchmarkSmokeTests {
    @Test func tinyBenchmarkRunsEveryScenarioAndPrintsRatios() async throws {
        let workspace = try Workspace()
        let bench = try workspace.start("bench", Paths.binaries.appendingPathComponent("swarm-bench"), ["-mib", "8", "-chunks", "4", "-seconds", "1"])
        await waitUntil("the benchmark finishes", timeout: .seconds(120)) { !bench.isRunning }
        #expect(bench.process.terminationStatus == 0, "\(bench.output)")
        let rows = bench.output.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| scenario") }
        #expect(rows.count == 3, "one row per scenario: \(bench.output)")
        for row in rows {
            let ratio = row.split(separator: "|").last?.split(separator: " ").first.flatMap { Double($0) }
            #expect((ratio ?? 0) > 0, "a measured ratio in \(row)")
        }
        await workspace.tearDown()
    }
}
