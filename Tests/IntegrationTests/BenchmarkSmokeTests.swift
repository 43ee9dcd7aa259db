import Foundation
import Testing

/// A tiny run of `swarm-bench`, so the benchmark keeps working; the full run is the README's command.
@Suite struct BenchmarkSmokeTests {
    @Test func tinyBenchmarkRunsEveryScenarioAndPrintsFigures() async throws {
        let workspace = try Workspace()
        let bench = try workspace.start(
            "bench", Paths.binaries.appendingPathComponent("swarm-bench"),
            ["-mib", "8", "-chunks", "4", "-clients", "3", "-startup-chunks", "1000", "-seconds", "1"]
        )
        await waitUntil("the benchmark finishes", timeout: .seconds(180)) { !bench.isRunning }
        #expect(bench.process.terminationStatus == 0, "\(bench.output)")
        let rows = bench.output.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| scenario") }
        let scenarios = ["1 seeder -> 1 client", "1 seeder -> 3 clients", "SHA-1", "one client fetching one", "start-up", "tracker WHERE_CHUNK", "terminal UI"]
        #expect(rows.count == scenarios.count, "one row per scenario: \(bench.output)")
        for (row, scenario) in zip(rows, scenarios) {
            #expect(row.contains(scenario), "\(scenario) in \(row)")
            // The last column starts with the measured figure: a ratio, MiB, seconds or percent
            // (a tiny transfer may leave the UI thread no measurable CPU time: 0.00% is a figure).
            let text = row.split(separator: "|").last?.split(separator: " ").first?.trimmingCharacters(in: CharacterSet(charactersIn: "%"))
            let figure = try #require(text.flatMap { Double($0) }, "a measured figure in \(row)")
            #expect(scenario == "terminal UI" ? figure >= 0 : figure > 0, "a measured figure in \(row)")
        }
        await workspace.tearDown()
    }

    @Test func unknownScenarioIsRefusedByName() async throws {
        let workspace = try Workspace()
        let bench = try workspace.start("bench", Paths.binaries.appendingPathComponent("swarm-bench"), ["-only", "transfer,warp"])
        await waitUntil("the benchmark exits") { !bench.isRunning }
        #expect(bench.process.terminationStatus != 0)
        #expect(bench.output.contains("unknown scenario 'warp'"), "\(bench.output)")
        await workspace.tearDown()
    }
}
