import ArgumentParser
import Foundation
import SwarmCore

/// `swarm-bench`: measures Swarm on loopback (and across a link between two hosts of its own)
/// with real `tracker` and `client` processes, against
/// baselines measured in the same run, and prints a table of figures and ratios. Absolute times
/// vary on shared machines; ratios to a same-run baseline do not.
@main
struct SwarmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm-bench",
        abstract: "Measure Swarm's data path, tracker and terminal UI against same-run baselines."
    )

    @Option(name: .customLong("mib", withSingleDash: true), help: "Size of the big file, MiB (1 -> 1, SHA-1, one big chunk, UI).")
    var mebibytes = 1024

    @Option(name: .customLong("chunks", withSingleDash: true), help: "Chunks the big file is cut into.")
    var chunks = 64

    @Option(name: .customLong("clients", withSingleDash: true), help: "Clients fetching together from one seeder (a quarter of -mib in 64 chunks).")
    var clients = 7

    @Option(name: .customLong("startup-chunks", withSingleDash: true), help: "Chunks listed by the client whose start-up registration is timed.")
    var startupChunks = 100_000

    @Option(name: .customLong("many-chunks", withSingleDash: true), help: "Chunks of 1 KiB one client fetches to show what a chunk costs (and a tenth as many).")
    var manyChunks = 20_000

    @Option(
        name: .customLong("registry-size", withSingleDash: true),
        help: "Classic registrations the registry-growth scenario holds (against a thousandth as many); BitTorrent peers: a tenth of it."
    )
    var registrySize = 1_000_000

    @Option(name: .customLong("link-delay", withSingleDash: true), help: "Milliseconds each way of the link scenario's link between two hosts (network namespaces).")
    var linkDelay = 10

    @Option(name: .customLong("seconds", withSingleDash: true), help: "Duration of the tracker round-trip run.")
    var seconds = 10

    @Option(name: .customLong("runs", withSingleDash: true), help: "Runs of the 1 -> 1 transfer and its baselines, and of the 1 -> many swarm; medians are reported.")
    var runs = 3

    @Option(
        name: .customLong("only", withSingleDash: true),
        help: "Comma-separated scenarios to run: \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")) (default: all)."
    )
    var only: String?

    func validate() throws {
        for (flag, value) in [("-mib", mebibytes), ("-chunks", chunks), ("-clients", clients), ("-startup-chunks", startupChunks), ("-many-chunks", manyChunks), ("-registry-size", registrySize), ("-seconds", seconds), ("-runs", runs), ("-link-delay", linkDelay)]
        where value < 1 {
            throw ValidationError("\(flag) must be at least 1, not \(value)")
        }
        guard mebibytes * 1_048_576 % chunks == 0, mebibytes * 1_048_576 / 4 % 64 == 0 else {
            throw ValidationError("-mib \(mebibytes) does not split evenly into -chunks \(chunks) and into 64 chunks of a quarter")
        }
        _ = try scenarios()
    }

    func scenarios() throws -> [Scenario] {
        guard let only else { return Scenario.allCases }
        return try only.split(separator: ",").map { name in
            guard let scenario = Scenario(rawValue: String(name)) else {
                throw ValidationError("-only: unknown scenario '\(name)'; known: \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return scenario
        }
    }

    func run() throws {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let bench = try Workbench(binaries: binaries)
        defer { bench.removeAll() }
        let selected = try scenarios()
        print("swarm-bench: \(mebibytes) MiB in \(chunks) chunks, \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Date())")
        var rows: [Row] = []
        let needsBigFile = !Set(selected).isDisjoint(with: [.transfer, .sha1, .bigChunk, .ui])
        let big = needsBigFile ? try bench.makeFile("big", mebibytes: mebibytes, chunks: chunks) : nil
        for scenario in selected {
            print("running \(scenario.rawValue)...")
            switch scenario {
            case .transfer:
                rows.append(try bench.oneToOne(big!, runs: runs))
            case .swarm:
                let data = try bench.makeFile("swarm", mebibytes: mebibytes / 4, chunks: 64)
                rows.append(try bench.oneToMany(data, clients: clients, runs: runs))
            case .sha1:
                rows.append(try bench.sha1(of: big!))
            case .bigChunk:
                rows.append(try bench.singleChunkMemory(big!))
            case .startup:
                rows.append(try bench.startup(chunks: startupChunks))
            case .manyChunks:
                rows.append(try bench.manyChunks(manyChunks))
            case .tracker:
                rows.append(try bench.trackerRoundTrips(connections: 50, seconds: seconds))
            case .ui:
                rows.append(try bench.terminalUI(big!))
            case .torrent:
                rows.append(try bench.torrentRace(mebibytes: max(1, mebibytes / 4), runs: runs))
            case .torrentTransfer:
                rows.append(try bench.torrentOneToOne(mebibytes: max(1, mebibytes / 4), runs: runs))
            case .torrentMemory:
                rows.append(try bench.torrentMemory(mebibytes: mebibytes * 4))
            case .registryGrowth:
                rows += try bench.registryGrowth(size: registrySize, seconds: seconds)
            case .link:
                let data = try bench.makeFile("link", mebibytes: mebibytes / 4, chunks: 64)
                rows.append(try bench.acrossALink(data, delay: .milliseconds(linkDelay), runs: runs))
            case .announces:
                rows.append(try bench.announceRace(connections: 50, torrents: 1000, seconds: seconds, runs: runs))
            }
            bench.stopProcesses()
        }
        print("")
        print("| scenario | Swarm | baseline (same run) | ratio or figure vs target |")
        print("|---|---|---|---|")
        for row in rows { print("| \(row.scenario) | \(row.swarm) | \(row.baseline) | \(row.verdict) |") }
    }
}

/// The scenarios, by the name `-only` takes.
enum Scenario: String, CaseIterable {
    case transfer, swarm, sha1, bigChunk = "big-chunk", startup, manyChunks = "many-chunks", tracker, ui, torrent
    case torrentTransfer = "torrent-transfer", torrentMemory = "torrent-memory", announces
    case registryGrowth = "registry-growth"
    case link
}

/// One line of the results table.
struct Row {
    let scenario: String
    let swarm: String
    let baseline: String
    let verdict: String
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Format {
    static func rate(_ bytesPerSecond: Double) -> String {
        bytesPerSecond >= 1_073_741_824
            ? String(format: "%.2f GiB/s", bytesPerSecond / 1_073_741_824) : String(format: "%.1f MiB/s", bytesPerSecond / 1_048_576)
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    static func ratio(_ value: Double) -> String { String(format: "%.3g", value) }

    /// `(target >= 0.90: met)`: whether `value` reaches `bound`.
    static func target(_ value: Double, atLeast bound: Double) -> String {
        String(format: "(target >= %.2f: %@)", bound, value >= bound ? "met" : "missed")
    }

    /// `(target <= 1.20: missed)`: whether `value` stays within `bound`.
    static func target(_ value: Double, atMost bound: Double) -> String {
        String(format: "(target <= %.2f: %@)", bound, value <= bound ? "met" : "missed")
    }

    /// CPU seconds per GiB moved.
    static func cpuPerGiB(_ seconds: Double) -> String { String(format: "%.2f s per GiB", seconds) }
}

enum Timing {
    static func seconds(_ work: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try work()
        return (ContinuousClock.now - start).seconds
    }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double { seconds * 1000 }
}

extension Array where Element == Double {
    /// The value below which `fraction` of the sorted samples lie.
    func percentile(_ fraction: Double) -> Double {
        let sorted = self.sorted()
        return sorted.isEmpty ? 0 : sorted[Swift.min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}
