import Foundation
import NetworkLab
import Testing

/// A tiny run of `swarm-bench`, so the benchmark keeps working; the full run is the README's command.
/// One run at a time: each clears what dead runs left, and the leftovers test must see its own run do it.
@Suite(.serialized) struct BenchmarkSmokeTests {
    @Test func tinyBenchmarkRunsEveryScenarioAndPrintsFigures() async throws {
        let workspace = try Workspace()
        let bench = try workspace.start(
            "bench", Paths.binaries.appendingPathComponent("swarm-bench"),
            ["-mib", "8", "-chunks", "4", "-clients", "3", "-startup-chunks", "1000", "-many-chunks", "200", "-registry-size", "20000", "-seconds", "1", "-runs", "2", "-link-delay", "5"]
        )
        await waitUntil("the benchmark finishes", timeout: .seconds(180)) { !bench.isRunning }
        #expect(bench.process.terminationStatus == 0, "\(bench.output)")
        let rows = bench.output.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| scenario") }
        let scenarios = [
            "1 seeder -> 1 client", "1 seeder -> 3 clients", "SHA-1", "one client fetching one", "start-up",
            "one client fetching 200 chunks", "tracker WHERE_CHUNK", "terminal UI", "libtorrent seeder -> our client",
            "our seeder -> our client", "one client fetching a 32 MiB torrent", "announces over HTTP", "classic registry", "BitTorrent registry",
            "1 seeder -> 1 client across a link of 5 ms each way",
        ]
        #expect(rows.count == scenarios.count, "one row per scenario: \(bench.output)")
        for (row, scenario) in zip(rows, scenarios) {
            #expect(row.contains(scenario), "\(scenario) in \(row)")
            if scenario.contains("torrent") || scenario.hasPrefix("libtorrent") || scenario.hasPrefix("announces"), !TorrentTools.available {
                #expect(row.contains("not run: needs"))
                continue
            }
            if scenario.hasPrefix("BitTorrent registry") || scenario.hasPrefix("announces"), !FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") {
                #expect(row.contains("not run: needs wrk"))
                continue
            }
            if scenario.contains("across a link"), let reason = NetworkLab.unavailability() {
                #expect(row.contains("skipped: \(reason)"))
                continue
            }
            // The last column starts with the measured figure: a ratio, MiB, seconds or percent
            // (a tiny transfer may leave the UI thread no measurable CPU time: 0.00% is a figure).
            let text = row.split(separator: "|").last?.split(separator: " ").first?.trimmingCharacters(in: CharacterSet(charactersIn: "%"))
            let figure = try #require(text.flatMap { Double($0) }, "a measured figure in \(row)")
            #expect(scenario == "terminal UI" ? figure >= 0 : figure > 0, "a measured figure in \(row)")
        }
        // Transfers are judged against the verified copy, the raw link beside it as information.
        let verdicts = rows.prefix(2).map { $0.split(separator: "|").last.map(String.init) ?? "" }
        #expect(verdicts.first?.contains(#/^ [0-9.]+ of the verified copy \(target >= 0\.90: (met|missed)\); [0-9.]+ of the raw link/#) == true, "\(verdicts)")
        #expect(verdicts.last?.contains(#/^ [0-9.]+ x the verified bound \(target <= 1\.20: (met|missed)\); [0-9.]+ x the raw bound/#) == true, "\(verdicts)")
        // Transfers also compare their CPU per GiB with the verified copy's.
        for row in rows.prefix(2) {
            let cpu = row.split(separator: "CPU ").last?.split(separator: " ").first.flatMap { Double($0) }
            #expect(row.hasSuffix("x the verified copy's |") && (cpu ?? 0) > 0, "a CPU ratio in \(row)")
        }
        await workspace.tearDown()
    }

    /// A run that died without cleaning up leaves processes working in its scratch folder, and
    /// the folder; the next run stops the one and removes the other.
    @Test func leftoversOfADeadRunAreCleared() async throws {
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-bench-\(gone.processIdentifier)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("output"), withIntermediateDirectories: true)
        let stray = Process()
        stray.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stray.arguments = ["600"]
        stray.currentDirectoryURL = folder
        try stray.run()
        defer { if stray.isRunning { stray.terminate() } }
        let workspace = try Workspace()
        let bench = try workspace.start("bench", Paths.binaries.appendingPathComponent("swarm-bench"), ["-only", "sha1", "-mib", "1"])
        await waitUntil("the benchmark finishes", timeout: .seconds(120)) { !bench.isRunning }
        #expect(bench.process.terminationStatus == 0, "\(bench.output)")
        #expect(bench.output.contains("removed what an earlier run (process \(gone.processIdentifier)) left"), "\(bench.output)")
        await waitUntil("the stray process is stopped") { !stray.isRunning }
        #expect(!FileManager.default.fileExists(atPath: folder.path))
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
