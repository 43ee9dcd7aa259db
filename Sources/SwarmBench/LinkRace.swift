import Foundation
import NetworkLab

#if canImport(Glibc)
import Glibc
#endif

extension Workbench {
    /// 1 seeder → 1 client between two hosts of their own (``NetworkLab``), joined by a link that
    /// holds each frame `delay` each way: from starting the client to its exit with every chunk,
    /// against a raw TCP copy of the same bytes over the same link (`sendfile`, read and discard,
    /// the kernel's own buffer tuning), alternating, `runs` times each; medians. The tracker runs
    /// on the seeder's host. Skipped, saying why, where namespaces cannot be made.
    func acrossALink(_ file: TestFile, delay: Duration, runs: Int) throws -> Row {
        let scenario = "1 seeder -> 1 client across a link of \(Int(delay.milliseconds)) ms each way, \(Format.mebibytes(file.bytes)) in \(file.chunks) chunks (median of \(runs))"
        if let reason = NetworkLab.unavailability() {
            return Row(scenario: scenario, swarm: "skipped: \(reason)", baseline: "-", verdict: "-")
        }
        let lab = try NetworkLab(hosts: 2, links: .relay(delay: delay, loss: 0))
        defer { lab.shutdown() }
        let (near, far) = (lab.hosts[0], lab.hosts[1])
        let tracker = near.address(port: 5100)
        let trackerProcess = try spawn(on: near, "tracker", "link-tracker", ["-host", "::", "-port", "5100"])
        try waitFor("the tracker on \(near.namespace) to listen", timeout: .seconds(30)) { trackerProcess.output.contains("listening") }
        let seeder = try spawn(on: near, "client", "link-seeder", ["-folder", file.seeder.path, "-transfer_port", "6001", "-name", "seeder", "-tracker", tracker, "-headless"])
        try waitFor("the seeder to register", timeout: .seconds(120)) { seeder.output.contains("tracker connected") }
        try warmPageCache(file)
        var raw: [Double] = []
        var swarm: [Double] = []
        var peak = 0
        for run in 1...runs {
            raw.append(try Loopback.copy(file: file.whole, over: .between(near, far)))
            let folder = try emptyFolder("link\(run)", total: file.chunks)
            sync()
            try preparePageCache(bytes: Self.pageCache(for: file.bytes))
            swarm.append(
                try Timing.seconds {
                    let client = try spawn(
                        on: far, "client", "link-client\(run)",
                        ["-folder", folder.path, "-transfer_port", "6001", "-name", "client\(run)", "-tracker", tracker, "-exit-when-complete", "-headless"]
                    )
                    guard let exit = client.waitForExit(timeout: .seconds(600)), exit.succeeded else {
                        throw BenchError("the client across the link did not finish: \(client.output.suffix(2000))")
                    }
                    peak = max(peak, exit.peakResidentBytes)
                })
            try verify(folder, holds: file)
            try setAside(folder)
        }
        let bytes = Double(file.bytes)
        let (rawSeconds, swarmSeconds) = (raw.percentile(0.5), swarm.percentile(0.5))
        return Row(
            scenario: scenario,
            swarm: Format.rate(bytes / swarmSeconds) + " (runs: " + swarm.map { Format.rate(bytes / $0) }.joined(separator: ", ")
                + "; client peak RSS " + Format.mebibytes(peak) + ")",
            baseline: "raw TCP copy over the same link " + Format.rate(bytes / rawSeconds) + " (runs: " + raw.map { Format.rate(bytes / $0) }.joined(separator: ", ") + ")",
            verdict: "\(Format.ratio(rawSeconds / swarmSeconds)) of the raw copy's rate \(Format.target(rawSeconds / swarmSeconds, atLeast: 0.75))"
        )
    }

    /// Starts one of our executables on `host`, its output in `output/<name>.txt`.
    private func spawn(on host: NetworkLab.Host, _ executable: String, _ name: String, _ arguments: [String]) throws -> Spawned {
        let (program, wrapped) = host.command(binaries.appendingPathComponent(executable).path, arguments)
        return try spawnTool(program, name, wrapped)
    }
}

extension Loopback.Link {
    /// From `sender` to `receiver`, two hosts of a lab, with the kernel's buffer tuning: a plain
    /// TCP copy, as any program makes one.
    static func between(_ sender: NetworkLab.Host, _ receiver: NetworkLab.Host) -> Loopback.Link {
        Loopback.Link {
            let (listener, port) = try receiver.listener()
            return (listener, { (try? sender.connect(to: receiver, port: port)) ?? -1 })
        }
    }
}
