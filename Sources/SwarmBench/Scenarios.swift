import Foundation
import LoopbackSupport
import Synchronization
import SwarmCore
import SwarmProtocol
import SwarmTUI

#if canImport(Glibc)
import Glibc
#endif

/// Loopback rates of one file, bytes per second: raw (read and discard) and verified (hash and
/// write); and the CPU the verified copy used, seconds per GiB (sender and receiver together).
struct LinkRates {
    let raw: Double
    let verified: Double
    let verifiedCPUPerGiB: Double
}

/// One timed piece of work: its wall-clock seconds and the CPU seconds it used.
struct Measured {
    let seconds: Double
    let cpuSeconds: Double

    /// CPU seconds per GiB of `bytes` moved.
    func cpuPerGiB(_ bytes: Int) -> Double { cpuSeconds * 1_073_741_824 / Double(bytes) }
}

extension Workbench {
    /// The cores of this machine: the verified copy runs one stream on each.
    static let cores = ProcessInfo.processInfo.activeProcessorCount

    /// The page cache to prepare before a transfer that writes `bytes`: those, and what the
    /// processes use beside them (buffers), up to 512 MiB.
    static func pageCache(for bytes: Int) -> Int { bytes + min(bytes / 2, 512 << 20) }

    /// 1 seeder → 1 client over real processes, from starting the client to its exit with every
    /// chunk on disk, against a raw loopback copy of the same bytes and against a verified copy
    /// (the least work a verifying client does); each `runs` times, medians. Beside the times,
    /// the CPU the client and the seeder used, against the verified copy's.
    func oneToOne(_ file: TestFile, runs: Int) throws -> Row {
        let (_, port) = try startTracker()
        let seeder = try startSeeder(file, trackerPort: port)
        var raw: [Double] = []
        var verified: [Measured] = []
        var swarm: [Measured] = []
        var clientCPU: [Double] = []
        var peak = 0
        try warmPageCache(file)
        for run in 1...runs {
            raw.append(try Loopback.copy(file: file.whole))
            let folder = try emptyFolder("leecher\(run)", total: file.chunks)
            sync()
            try preparePageCache(bytes: Self.pageCache(for: file.bytes))
            let seederBefore = seeder.cpuTime()
            let (seconds, exit) = try fetchAll(file, into: folder, trackerPort: port)
            let seederCPU = try Self.difference(seeder.cpuTime(), seederBefore, of: "the seeder")
            swarm.append(Measured(seconds: seconds, cpuSeconds: exit.cpuTime.seconds + seederCPU))
            clientCPU.append(exit.cpuTime.seconds)
            peak = max(peak, exit.peakResidentBytes)
            try setAside(folder)
        }
        // After the transfers, so that writing and dropping its gigabyte cannot touch them.
        for _ in 1...runs { verified.append(try verifiedCopy(file)) }
        let bytes = Double(file.bytes)
        let rawSeconds = raw.percentile(0.5)
        let verifiedSeconds = verified.map(\.seconds).percentile(0.5)
        let swarmSeconds = swarm.map(\.seconds).percentile(0.5)
        let swarmCPU = swarm.map { $0.cpuPerGiB(file.bytes) }.percentile(0.5)
        let verifiedCPU = verified.map { $0.cpuPerGiB(file.bytes) }.percentile(0.5)
        let clientShare = clientCPU.map { $0 * 1_073_741_824 / bytes }.percentile(0.5)
        return Row(
            scenario: "1 seeder -> 1 client, \(Format.mebibytes(file.bytes)) in \(file.chunks) chunks (median of \(runs))",
            swarm: Format.rate(bytes / swarmSeconds) + " (runs: " + swarm.map { Format.rate(bytes / $0.seconds) }.joined(separator: ", ")
                + "; client peak RSS " + Format.mebibytes(peak) + "); CPU " + Format.cpuPerGiB(swarmCPU)
                + String(format: " (client %.2f)", clientShare),
            baseline: "raw loopback copy " + Format.rate(bytes / rawSeconds) + "; verified copy (\(Self.cores) streams, SHA-1, write to a file) "
                + Format.rate(bytes / verifiedSeconds) + ", CPU " + Format.cpuPerGiB(verifiedCPU),
            // Judged against the verified copy, the least any verifying client must do; the raw
            // link is information (the verified copy itself reaches about half of it).
            verdict: "\(Format.ratio(verifiedSeconds / swarmSeconds)) of the verified copy \(Format.target(verifiedSeconds / swarmSeconds, atLeast: 0.9)); "
                + "\(Format.ratio(rawSeconds / swarmSeconds)) of the raw link (the verified copy: \(Format.ratio(rawSeconds / verifiedSeconds))); "
                + "CPU \(Format.ratio(swarmCPU / verifiedCPU)) x the verified copy's"
        )
    }

    /// CPU seconds between two readings of a running process's CPU time.
    static func difference(_ after: Duration?, _ before: Duration?, of process: String) throws -> Double {
        guard let after, let before else { throw BenchError("cannot read the CPU time of \(process)") }
        return (after - before).seconds
    }

    /// The loopback rates of `file`: medians of three copies of each kind.
    func linkRates(_ file: TestFile) throws -> LinkRates {
        let bytes = Double(file.bytes)
        // Medians of three: a copy of a quarter gigabyte takes a few tenths of a second, and one
        // such copy ranged from 0.93 to 1.47 GiB/s between runs.
        let raw = try (1...3).map { _ in try Loopback.copy(file: file.whole) }.percentile(0.5)
        let verified = try (1...3).map { _ in try verifiedCopy(file) }
        return LinkRates(
            raw: bytes / raw,
            verified: bytes / verified.map(\.seconds).percentile(0.5),
            verifiedCPUPerGiB: verified.map { $0.cpuPerGiB(file.bytes) }.percentile(0.5)
        )
    }

    /// A ``Loopback/verifiedCopy(file:to:streams:)`` of `file`, one stream per core.
    func verifiedCopy(_ file: TestFile) throws -> Measured {
        let copy = root.appendingPathComponent("verified-copy.bin")
        defer { try? FileManager.default.removeItem(at: copy) }
        try preparePageCache(bytes: Self.pageCache(for: file.bytes))
        return try Loopback.verifiedCopy(file: file.whole, to: copy, streams: Self.cores)
    }

    /// 1 seeder → `clients` clients started together, `runs` times, each with its own tracker,
    /// seeder and empty folders; a run is done when every folder is complete. Each run's bound is
    /// every client's bytes over the raw loopback rate of `file` measured just after it, as if
    /// sent one after another; beside it, the same bytes over the verified-copy rate, the bound
    /// the run is judged by. The run with the median ratio to its verified bound is reported,
    /// with every run's time.
    func oneToMany(_ file: TestFile, clients: Int, runs: Int) throws -> Row {
        var outcomes: [SwarmRun] = []
        for run in 1...runs {
            outcomes.append(try swarmRun(file, clients: clients, label: "\(run)"))
            stopProcesses()
        }
        let median = outcomes.sorted { $0.seconds / $0.verifiedBound < $1.seconds / $1.verifiedBound }[outcomes.count / 2]
        let served = median.fromClients + median.fromSeeder
        return Row(
            scenario: "1 seeder -> \(clients) clients, \(Format.mebibytes(file.bytes)) in \(file.chunks) chunks (median of \(runs))",
            swarm: String(format: "%.2f s (runs: %@); clients served each other %@ of %@ (%.0f%%); CPU %@ received", median.seconds,
                          outcomes.map { String(format: "%.2f s", $0.seconds) }.joined(separator: ", "),
                          Format.mebibytes(median.fromClients), Format.mebibytes(served),
                          100 * Double(median.fromClients) / Double(max(1, served)), Format.cpuPerGiB(median.cpuPerGiB)),
            baseline: String(format: "bound %.2f s (%d x the bytes at %@); verified bound %.2f s (at %@, CPU %@)", median.bound, clients,
                             Format.rate(median.rates.raw), median.verifiedBound, Format.rate(median.rates.verified),
                             Format.cpuPerGiB(median.rates.verifiedCPUPerGiB)),
            verdict: "\(Format.ratio(median.seconds / median.verifiedBound)) x the verified bound "
                + "\(Format.target(median.seconds / median.verifiedBound, atMost: 1.2)); "
                + "\(Format.ratio(median.seconds / median.bound)) x the raw bound (the verified bound: \(Format.ratio(median.verifiedBound / median.bound)) x); "
                + "CPU \(Format.ratio(median.cpuPerGiB / median.rates.verifiedCPUPerGiB)) x the verified copy's"
        )
    }

    /// One 1 → many run: how long it took, the bytes the seeder and the clients served, the CPU
    /// they all used per GiB received, and the loopback rates measured just after it.
    struct SwarmRun {
        let seconds: Double
        let cpuPerGiB: Double
        let fromSeeder: Int
        let fromClients: Int
        let rates: LinkRates
        /// The bytes every client received, over the raw rate.
        let bound: Double
        /// The same bytes over the verified-copy rate.
        let verifiedBound: Double
    }

    /// Starts a tracker, a seeder of `file` and `clients` clients on empty folders named after
    /// `label`; returns once every folder is complete and checked.
    private func swarmRun(_ file: TestFile, clients: Int, label: String) throws -> SwarmRun {
        let (_, port) = try startTracker()
        let seeder = try startSeeder(file, trackerPort: port, name: "swarm\(label)-seeder")
        let folders = try (1...clients).map { try emptyFolder("swarm\(label)-client\($0)", total: file.chunks) }
        try warmPageCache(file)
        var processes: [Spawned] = []
        sync()
        try preparePageCache(bytes: Self.pageCache(for: file.bytes * clients))
        let seederBefore = seeder.cpuTime()
        let seconds = try Timing.seconds {
            processes = try folders.map { try startClient($0.lastPathComponent, folder: $0, trackerPort: port) }
            try waitFor("every client to complete", timeout: .seconds(600)) {
                folders.allSatisfy { Self.listedCount($0) == file.chunks }
            }
        }
        let seederCPU = try Self.difference(seeder.cpuTime(), seederBefore, of: "the seeder")
        let clientsCPU: Double = try processes.map { client in
            guard let exit = client.stop() else { throw BenchError("\(client.outputPath) did not stop") }
            return exit.cpuTime.seconds
        }.reduce(0, +)
        for folder in folders { try verify(folder, holds: file) }
        seeder.stop()
        for folder in folders { try setAside(folder) }
        // After the run, as in the 1 -> 1 scenario: writing and dropping a copy must not touch it.
        let rates = try linkRates(file)
        let chunkBytes = file.bytes / file.chunks
        let received = Double(file.bytes * clients)
        return SwarmRun(
            seconds: seconds,
            cpuPerGiB: (seederCPU + clientsCPU) * 1_073_741_824 / received,
            fromSeeder: Self.servedCount(in: seeder.output) * chunkBytes,
            fromClients: processes.map { Self.servedCount(in: $0.output) }.reduce(0, +) * chunkBytes,
            rates: rates,
            bound: received / rates.raw,
            verifiedBound: received / rates.verified
        )
    }

    /// Whole chunks a client's log says it served.
    static func servedCount(in output: String) -> Int {
        output.split(separator: "\n").count { $0.contains("] served chunk ") }
    }

    /// SHA-1 of the file the way a client hashes its chunks, against `openssl sha1`.
    func sha1(of file: TestFile) throws -> Row {
        let ours = try Timing.seconds { _ = try ChunkHasher.digest(ofFileAt: file.whole.path) }
        let openssl = try Timing.seconds {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl", "sha1", file.whole.path]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BenchError("openssl sha1 failed (is openssl installed?)") }
        }
        let bytes = Double(file.bytes)
        return Row(
            scenario: "SHA-1 of \(Format.mebibytes(file.bytes)) in the page cache",
            swarm: Format.rate(bytes / ours),
            baseline: "openssl sha1 " + Format.rate(bytes / openssl),
            verdict: "\(Format.ratio(openssl / ours)) (target >= 0.90)"
        )
    }

    /// A client fetching the whole file as one chunk: its peak resident memory.
    func singleChunkMemory(_ file: TestFile) throws -> Row {
        let single = TestFile(whole: file.whole, seeder: root.appendingPathComponent("single-seeder"), chunks: 1, bytes: file.bytes)
        try FileManager.default.createDirectory(at: single.seeder, withIntermediateDirectories: true)
        guard link(file.whole.path, single.seeder.appendingPathComponent("chunk_1").path) == 0 else {
            throw BenchError("cannot link the big file into the single-chunk seeder: \(String(cString: strerror(errno)))")
        }
        try ChunkList(total: 1, files: [ChunkIndex(1): "chunk_1"]).text
            .write(to: single.seeder.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        let (_, port) = try startTracker()
        try startSeeder(single, trackerPort: port, name: "single-seeder")
        let (_, exit) = try fetchAll(single, into: try emptyFolder("single-leecher", total: 1), trackerPort: port)
        return Row(
            scenario: "one client fetching one \(Format.mebibytes(file.bytes)) chunk",
            swarm: "peak RSS " + Format.mebibytes(exit.peakResidentBytes),
            baseline: "-",
            verdict: "\(Format.mebibytes(exit.peakResidentBytes)) (target <= 64 MiB)"
        )
    }

    /// One client fetching `chunks` chunks of 1 KiB from one seeder, and the same with a tenth as
    /// many: the client's CPU per chunk at both sizes. Their ratio stays near 1 while what a
    /// chunk costs does not grow with the number of chunks (a plan or a list rewrite that reads
    /// every chunk, once per chunk fetched, would make it grow tenfold).
    func manyChunks(_ chunks: Int) throws -> Row {
        let fewer = max(chunks / 10, 1)
        let few = try fetchTinyChunks(fewer, label: "few")
        let many = try fetchTinyChunks(chunks, label: "many")
        let perChunk = { (run: Measured, count: Int) in run.cpuSeconds * 1000 / Double(count) }
        let growth = perChunk(many, chunks) / perChunk(few, fewer)
        return Row(
            scenario: "one client fetching \(chunks) chunks of 1 KiB",
            swarm: String(format: "%.2f s (%.0f chunks/s); client CPU %.2f ms per chunk", many.seconds, Double(chunks) / many.seconds, perChunk(many, chunks)),
            baseline: String(format: "%d chunks: %.2f s; client CPU %.2f ms per chunk", fewer, few.seconds, perChunk(few, fewer)),
            verdict: "\(Format.ratio(growth)) x the CPU per chunk of a tenth as many (about 1: no growth with the count)"
        )
    }

    /// Starts a tracker and a seeder of `chunks` chunks of 1 KiB; times one client fetching them
    /// all, from its start to its exit once complete, with the CPU it used.
    private func fetchTinyChunks(_ chunks: Int, label: String) throws -> Measured {
        let file = try makeFile(label, chunkBytes: 1024, chunks: chunks)
        let (_, port) = try startTracker()
        try startSeeder(file, trackerPort: port, name: "\(label)-seeder")
        let folder = try emptyFolder("\(label)-leecher", total: chunks)
        let (seconds, exit) = try fetchAll(file, into: folder, trackerPort: port)
        stopProcesses()
        try setAside(folder)
        return Measured(seconds: seconds, cpuSeconds: exit.cpuTime.seconds)
    }

    /// A client whose folder lists `chunks` small chunks: from its hashes being known (its first
    /// line, printed once they are) to the tracker answering for its last chunk (registrations go
    /// in index order on one connection). Meanwhile another connection keeps asking the tracker
    /// `WHERE_CHUNK` and times each answer.
    func startup(chunks: Int) throws -> Row {
        let folder = root.appendingPathComponent("startup")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var list = ChunkList(total: chunks)
        for index in 1...chunks {
            let name = "chunk_\(index)"
            try FileSystem.writeWithoutSync(Array("chunk \(index)\n".utf8), to: folder.appendingPathComponent(name).path)
            list.add(ChunkIndex(index), fileName: name)
        }
        try list.text.write(to: folder.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        let (_, port) = try startTracker()
        let launched = ContinuousClock.now
        let client = try startClient("startup", folder: folder, trackerPort: port)
        try waitFor("the client to hash its chunks", timeout: .seconds(300)) { client.output.contains("] registered \(chunks) chunk") }
        let hashed = ContinuousClock.now
        guard let probe = LoopbackSocket.connected(port: port) else { throw BenchError("the tracker refused the probe connection") }
        defer { close(probe) }
        let question = "WHERE_CHUNK,\(chunks)\n"
        var latencies: [Double] = []
        let deadline = hashed + .seconds(60)
        while ContinuousClock.now < deadline {
            let asked = ContinuousClock.now
            guard let answer = LoopbackSocket.exchange(question, on: probe), answer.hasSuffix("\n") else {
                throw BenchError("the tracker closed the probe connection")
            }
            latencies.append((ContinuousClock.now - asked).milliseconds)
            if answer.hasPrefix("GET_CHUNK_FROM") { break }
        }
        let registered = ContinuousClock.now - hashed
        guard registered < .seconds(60) else { throw BenchError("chunk \(chunks) was not registered within 60 s") }
        return Row(
            scenario: "start-up of a client listing \(chunks) chunks",
            swarm: String(format: "registered %.2f s after its hashes were known (hashing took %.2f s)", registered.seconds, (hashed - launched).seconds),
            baseline: String(format: "meanwhile %d WHERE_CHUNK answers: p50 %.3f ms, p99 %.3f ms, max %.3f ms",
                             latencies.count, latencies.percentile(0.5), latencies.percentile(0.99), latencies.max() ?? 0),
            verdict: String(format: "%.2f s (target <= 3 s)", registered.seconds)
        )
    }

    /// `WHERE_CHUNK` round trips on `connections` persistent connections for `seconds`, against
    /// the same load on a minimal responder (one thread, `poll(2)`, a fixed answer per line): the
    /// most this machine's loopback and system calls allow for one question per round trip.
    func trackerRoundTrips(connections: Int, seconds: Int) throws -> Row {
        let (_, port) = try startTracker()
        // Registrations get no answer: send one, then ask once to know it has been read.
        let registration = "LOCAL_CHUNKS,1,\(String(repeating: "a", count: 40)),127.0.0.1,6000\nWHERE_CHUNK,1\n"
        guard LoopbackSocket.ask(port: port, registration)?.hasPrefix("GET_CHUNK_FROM,1,") == true else {
            throw BenchError("the tracker did not take the registration")
        }
        let tracker = try Loopback.roundTrips(port: port, connections: connections, seconds: seconds)
        let responder = Loopback.Responder(answer: "GET_CHUNK_FROM,1,\(String(repeating: "a", count: 40)),127.0.0.1,6000\n")
        defer { responder.stop() }
        let minimal = try Loopback.roundTrips(port: responder.port, connections: connections, seconds: seconds)
        let (ours, theirs) = (Double(tracker.count) / Double(seconds), Double(minimal.count) / Double(seconds))
        return Row(
            scenario: "tracker WHERE_CHUNK, \(connections) connections, \(seconds) s",
            swarm: String(format: "%.0f answers/s, p50 %.3f ms, p99 %.3f ms", ours, tracker.percentile(0.5), tracker.percentile(0.99)),
            baseline: String(format: "minimal poll responder %.0f answers/s", theirs),
            verdict: "\(Format.ratio(ours / theirs)) of the responder; \(Format.ratio(ours / 100_000)) of the 100,000/s target"
        )
    }

    /// The terminal UI client (on a 120 x 40 pseudo-terminal) fetching the file: CPU time of its
    /// UI thread over the transfer, then over 5 idle seconds once complete.
    func terminalUI(_ file: TestFile) throws -> Row {
        let (_, port) = try startTracker()
        try startSeeder(file, trackerPort: port, name: "ui-seeder")
        let folder = try emptyFolder("ui-leecher", total: file.chunks)
        let client = try startClient("ui-leecher", folder: folder, trackerPort: port, terminal: (120, 40))
        var begin: (wall: ContinuousClock.Instant, cpu: Duration)?
        try waitFor("the UI thread to start", timeout: .seconds(60)) {
            begin = client.cpuTime(ofThreadNamed: TerminalUI.threadName).map { (ContinuousClock.now, $0) }
            return begin != nil
        }
        try waitFor("the transfer to complete", timeout: .seconds(600)) { Self.listedCount(folder) == file.chunks }
        let transfer = try usage(of: client, since: begin!)
        let idleStart = (ContinuousClock.now, client.cpuTime(ofThreadNamed: TerminalUI.threadName) ?? .zero)
        usleep(5_000_000)
        let idle = try usage(of: client, since: idleStart)
        client.stop()
        try verify(folder, holds: file)
        return Row(
            scenario: "terminal UI, 120 x 40, during the \(Format.mebibytes(file.bytes)) transfer / idle",
            swarm: String(format: "UI thread %.2f%% of a core / %.2f%% idle", transfer * 100, idle * 100),
            baseline: "-",
            verdict: String(format: "%.2f%% / %.2f%% (targets <= 10%% / <= 2%%)", transfer * 100, idle * 100)
        )
    }

    /// The UI thread's share of one core since `start`.
    private func usage(of client: Spawned, since start: (wall: ContinuousClock.Instant, cpu: Duration)) throws -> Double {
        guard let cpu = client.cpuTime(ofThreadNamed: TerminalUI.threadName) else { throw BenchError("the UI thread is gone") }
        return (cpu - start.cpu).seconds / (ContinuousClock.now - start.wall).seconds
    }
}
