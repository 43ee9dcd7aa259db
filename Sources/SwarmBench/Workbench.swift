import Foundation
import LoopbackSupport
import Synchronization
import SwarmCore
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A file cut into chunks: whole (for the baselines) and as a seeder's folder.
struct TestFile {
    let whole: URL
    let seeder: URL
    let chunks: Int
    let bytes: Int
}

/// The bench's scratch folder, its data, and the real processes each scenario starts.
final class Workbench {
    let root: URL
    let binaries: URL
    private var started: [Spawned] = []

    /// The scratch folders of runs are named this, then their process id.
    static let folderPrefix = "swarm-bench-"

    init(binaries: URL) throws {
        self.binaries = binaries
        Self.clearLeftovers(in: FileManager.default.temporaryDirectory)
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(Self.folderPrefix)\(getpid())")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("output"), withIntermediateDirectories: true)
        // Every process starts here, so their logger.log lands in the scratch folder.
        guard FileManager.default.changeCurrentDirectoryPath(root.path) else { throw BenchError("cannot enter \(root.path)") }
    }

    /// Clears what runs that died without cleaning up (a crash, SIGKILL) left in `directory`:
    /// every process still working in their scratch folders is stopped, and the folders,
    /// gigabytes each, are removed.
    static func clearLeftovers(in directory: URL) {
        let cleared = ScratchLeftovers.clear(in: directory.path, prefix: folderPrefix, program: "swarm-bench") { try? FileSystem.removeTree($0) }
        for leftover in cleared {
            print("removed what an earlier run (process \(leftover.owner)) left: its scratch folder and \(leftover.stopped.count) processes")
        }
    }

    /// Stops every process still running, so that none idles through the next scenario.
    func stopProcesses() {
        for process in started { process.stop() }
        started.removeAll()
    }

    /// Moves a run's folder out of the way, to be removed with the scratch folder at the end.
    ///
    /// Removing it now would slow the runs after it on this machine's disk (ext4 without a
    /// journal): for a minute after an inode is freed, every new file in its group scans past
    /// it, and a 1 -> 7 run frees hundreds (5.5% of the clients' CPU in the run after one).
    func setAside(_ folder: URL) throws {
        let aside = root.appendingPathComponent("set-aside")
        try FileManager.default.createDirectory(at: aside, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: folder, to: aside.appendingPathComponent(UUID().uuidString))
    }

    /// Stops every process still running and removes the scratch folder.
    func removeAll() {
        stopProcesses()
        try? FileSystem.removeTree(root.path)
    }

    // MARK: Data

    /// Writes `mebibytes` of pseudo-random bytes as `<name>.bin` and as the folder `<name>-seeder`.
    func makeFile(_ name: String, mebibytes: Int, chunks: Int) throws -> TestFile {
        try makeFile(name, chunkBytes: mebibytes * 1_048_576 / chunks, chunks: chunks)
    }

    /// Writes `chunks` chunks of `chunkBytes` pseudo-random bytes as `<name>.bin` and as the
    /// folder `<name>-seeder`.
    func makeFile(_ name: String, chunkBytes: Int, chunks: Int) throws -> TestFile {
        let whole = root.appendingPathComponent("\(name).bin")
        let seeder = root.appendingPathComponent("\(name)-seeder")
        try FileManager.default.createDirectory(at: seeder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: whole.path, contents: nil)
        let output = try FileHandle(forWritingTo: whole)
        defer { try? output.close() }
        var generator = SplitMix64(seed: UInt64(chunkBytes))
        var list = ChunkList(total: chunks)
        for index in 1...chunks {
            var bytes = [UInt8](repeating: 0, count: chunkBytes)
            bytes.withUnsafeMutableBytes { raw in
                for position in raw.bindMemory(to: UInt64.self).indices { raw.storeBytes(of: generator.next(), toByteOffset: position * 8, as: UInt64.self) }
            }
            try output.write(contentsOf: bytes)
            try FileSystem.writeWithoutSync(bytes, to: seeder.appendingPathComponent("chunk_\(index)").path)
            list.add(ChunkIndex(index), fileName: "chunk_\(index)")
        }
        try list.text.write(to: seeder.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        // Dirty pages written back later would slow whichever scenario runs then.
        sync()
        return TestFile(whole: whole, seeder: seeder, chunks: chunks, bytes: chunkBytes * chunks)
    }

    /// Writes `bytes` into a scratch file and deletes it, just before a timed section that will
    /// fill about that much of the page cache.
    ///
    /// On this machine, writing into the page cache is fast into memory that files held moments
    /// before and slow into memory left unused for a few seconds (a balloon device takes free
    /// memory back): `dd` of 1 GiB ran at 0.45-1.1 GB/s after 6 idle seconds, 4.3-5.5 GB/s right
    /// after another 1 GiB file was deleted, and 4.4-5.3 GB/s after this step. Without it, 1 -> 1
    /// runs of one build went 536 MiB/s, 1.26 GiB/s, 545 MiB/s, depending on what ran before.
    /// (Touching anonymous memory or tmpfs instead did not help.)
    func preparePageCache(bytes: Int) throws {
        let scratch = root.appendingPathComponent("page-cache-scratch")
        guard FileManager.default.createFile(atPath: scratch.path, contents: nil) else { throw BenchError("cannot create \(scratch.path)") }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let handle = try FileHandle(forWritingTo: scratch)
        defer { try? handle.close() }
        let block = Data(count: 1 << 20)
        for offset in stride(from: 0, to: bytes, by: block.count) {
            try handle.write(contentsOf: block.prefix(bytes - offset))
        }
    }

    /// Reads the file and the seeder's chunks twice. Pages written moments before cost the kernel
    /// extra on their first reads (the first of three 1 -> 1 runs was up to 40% slower than the
    /// others without this), which is not what the transfer is measured for.
    func warmPageCache(_ file: TestFile) throws {
        let paths = [file.whole] + (1...file.chunks).map { file.seeder.appendingPathComponent("chunk_\($0)") }
        for _ in 1...2 {
            for path in paths {
                let handle = try FileHandle(forReadingFrom: path)
                defer { try? handle.close() }
                while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty {}
            }
        }
    }

    /// A new folder `name` listing no chunks of `total`.
    func emptyFolder(_ name: String, total: Int) throws -> URL {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try ChunkList(total: total).text.write(to: folder.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        return folder
    }

    /// How many chunks `folder` lists now.
    static func listedCount(_ folder: URL) -> Int {
        guard let text = try? String(contentsOf: folder.appendingPathComponent(ChunkList.fileName), encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").count { !$0.hasSuffix(",LASTCHUNK") }
    }

    // MARK: Processes

    /// Starts a tracker on a free port; returns it once it answers.
    func startTracker() throws -> (Spawned, Int) {
        let port = LoopbackPort.unused()
        let tracker = try spawn("tracker", "tracker-\(port)", ["-port", "\(port)"])
        try waitFor("the tracker to answer", timeout: .seconds(30)) { LoopbackSocket.ask(port: port, "WHERE_CHUNK,1\n")?.hasSuffix("\n") == true }
        return (tracker, port)
    }

    /// Starts a client on `folder`, headless unless `terminal` is given.
    func startClient(
        _ name: String,
        folder: URL,
        trackerPort: Int,
        extra: [String] = [],
        terminal: (columns: Int, rows: Int)? = nil
    ) throws -> Spawned {
        try spawn(
            "client", name,
            ["-folder", folder.path, "-transfer_port", "\(LoopbackPort.unused())", "-name", name, "-tracker", "127.0.0.1:\(trackerPort)"]
                + (terminal == nil ? ["-headless"] : []) + extra,
            terminal: terminal
        )
    }

    private func spawn(_ executable: String, _ name: String, _ arguments: [String], terminal: (columns: Int, rows: Int)? = nil) throws -> Spawned {
        try spawnTool(binaries.appendingPathComponent(executable).path, name, arguments, terminal: terminal)
    }

    /// Starts the program at `path`, its output in `output/<name>.txt`; stopped with the scenario.
    func spawnTool(_ path: String, _ name: String, _ arguments: [String], terminal: (columns: Int, rows: Int)? = nil) throws -> Spawned {
        let process = try Spawned(URL(fileURLWithPath: path), arguments, output: root.appendingPathComponent("output/\(name).txt"), terminal: terminal)
        started.append(process)
        return process
    }

    /// Polls `condition` every 5 ms; throws naming `what` if it does not hold within `timeout`,
    /// or at once, with its last output, if a process that should be running has exited.
    func waitFor(_ what: String, timeout: Duration, _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            for process in started where !process.hasBeenReaped {
                guard let exit = process.waitForExit(timeout: .zero) else { continue }
                throw BenchError(
                    "\(process.outputPath) ended (status \(exit.status)) while waiting for \(what): \(process.output.suffix(2000))"
                )
            }
            guard ContinuousClock.now < deadline else { throw BenchError("timed out after \(timeout) waiting for \(what)") }
            usleep(5_000)
        }
    }

    /// A seeder on `file`, once the tracker knows its last chunk.
    @discardableResult
    func startSeeder(_ file: TestFile, trackerPort: Int, name: String = "seeder") throws -> Spawned {
        let seeder = try startClient(name, folder: file.seeder, trackerPort: trackerPort)
        try waitFor("the seeder to register", timeout: .seconds(120)) {
            LoopbackSocket.ask(port: trackerPort, "WHERE_CHUNK,\(file.chunks)\n")?.hasPrefix("GET_CHUNK_FROM") == true
        }
        return seeder
    }

    /// Starts a client on the empty `folder` that exits once it holds every chunk of `file`,
    /// waits for that and checks the bytes; returns its exit (peak memory, CPU time) and the
    /// seconds from its start to its exit.
    func fetchAll(_ file: TestFile, into folder: URL, trackerPort: Int) throws -> (seconds: Double, exit: Spawned.Exit) {
        var exit: Spawned.Exit?
        let seconds = try Timing.seconds {
            let client = try startClient(folder.lastPathComponent, folder: folder, trackerPort: trackerPort, extra: ["-exit-when-complete"])
            exit = client.waitForExit(timeout: .seconds(600))
        }
        guard let exit, exit.succeeded else {
            throw BenchError("the client on \(folder.lastPathComponent) did not finish: \(exit.map { "status \($0.status)" } ?? "still running")")
        }
        try verify(folder, holds: file)
        return (seconds, exit)
    }

    /// Checks `folder` holds exactly the seeder's bytes of `file`.
    func verify(_ folder: URL, holds file: TestFile) throws {
        for index in 1...file.chunks {
            let name = "chunk_\(index)"
            guard try Self.sameBytes(folder.appendingPathComponent(name), file.seeder.appendingPathComponent(name)) else {
                throw BenchError("\(folder.lastPathComponent): chunk \(index) differs from the seeder's")
            }
        }
    }

    /// Whether two files hold the same bytes, compared a MiB at a time (`FileManager`'s
    /// `contentsEqual` compares byte by byte and took longer than the transfers it checked).
    static func sameBytes(_ first: URL, _ second: URL) throws -> Bool {
        let (one, other) = (try FileHandle(forReadingFrom: first), try FileHandle(forReadingFrom: second))
        defer {
            try? one.close()
            try? other.close()
        }
        while true {
            let block = try one.read(upToCount: 1 << 20) ?? Data()
            guard block == (try other.read(upToCount: 1 << 20) ?? Data()) else { return false }
            if block.isEmpty { return true }
        }
    }
}
