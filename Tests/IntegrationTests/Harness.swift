import Foundation
import LoopbackSupport
import SwarmCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether binding an address this machine does not have fails, as it does unless
/// `net.ipv4.ip_nonlocal_bind` is set.
func onlyLocalAddressesBind() -> Bool {
    (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_nonlocal_bind", encoding: .utf8))?.hasPrefix("0") ?? true
}

/// Where the built executables and the seed-era Python peers live.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The directory holding the test binary, which SwiftPM fills with the package's executables too.
    static let binaries: URL = {
        let candidates = [
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            packageRoot.appendingPathComponent(".build/debug"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("tracker").path) }
            ?? packageRoot.appendingPathComponent(".build/debug")
    }()

    static var tracker: URL { binaries.appendingPathComponent("tracker") }
    static var client: URL { binaries.appendingPathComponent("client") }
    static var seedTracker: URL { Bundle.module.url(forResource: "seed_tracker", withExtension: "py", subdirectory: "Seed")! }
    static var seedPeer: URL { Bundle.module.url(forResource: "seed_peer", withExtension: "py", subdirectory: "Seed")! }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now, for a process the test starts.
func freePort() -> Int { LoopbackPort.unused() }

/// Polls `condition` every 50 ms until it holds or `timeout` passes; records a failure naming `what` if not.
@discardableResult
func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    let holds = try condition()
    if !holds { Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation) }
    return holds
}

/// A process the test started; stopped (SIGKILL if need be) when the workspace is torn down.
final class TestProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    let outputURL: URL

    /// Starts `executable`; its standard output, and its standard error unless `errors` takes
    /// it, go to ``output``.
    init(name: String, executable: URL, arguments: [String], directory: URL, errors: Pipe? = nil) throws {
        self.name = name
        outputURL = directory.appendingPathComponent("\(name).out")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = errors ?? output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Everything the process printed so far.
    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` and waits up to `timeout` for the exit; returns the exit status, or nil if still running.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async -> Int32? {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

/// A temporary directory holding chunk folders and the processes of one test.
final class Workspace: @unchecked Sendable {
    let root: URL
    private(set) var processes: [TestProcess] = []

    /// Workspaces are named this, then the test process's id.
    static let prefix = "swarm-it-"

    init() throws {
        _ = Self.leftoversCleared
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(Self.prefix)\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    /// Once per test run, before its first workspace: what an interrupted run left (its
    /// workspaces, and the trackers and clients still running in them) is cleared.
    private static let leftoversCleared: Void = {
        let program = ScratchLeftovers.executableName(of: getpid()) ?? ""
        _ = ScratchLeftovers.clear(in: FileManager.default.temporaryDirectory.path, prefix: prefix, program: program) { folder in
            try? FileManager.default.removeItem(atPath: folder)
        }
    }()

    /// Stops every process, unmounts `mountPoint` if a test mounted a file system inside the
    /// workspace (a mount point cannot be removed), and removes the workspace.
    func tearDown(unmounting mountPoint: URL? = nil) async {
        for process in processes { await process.stop(signal: SIGKILL, timeout: .seconds(5)) }
        if let mountPoint { _ = system("umount -l '\(mountPoint.path)'") }
        try? FileManager.default.removeItem(at: root)
    }

    /// Random bytes for chunk `index`, the same for a given seed so tests can compare.
    static func content(of index: Int, size: Int) -> Data {
        Data(SplitMix64.bytes(count: size, seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(size)))
    }

    /// A chunk folder holding `chunks` (index → bytes) of a file with `total` chunks, in the seed's format.
    @discardableResult
    func makeFolder(_ name: String, chunks: [Int: Data], total: Int) throws -> URL {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var list = ""
        for (index, data) in chunks.sorted(by: { $0.key < $1.key }) {
            try data.write(to: folder.appendingPathComponent("chunk_\(index)"))
            list += "\(index),chunk_\(index)\n"
        }
        list += "\(total),LASTCHUNK\n"
        try list.write(to: folder.appendingPathComponent("local_chunks.txt"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Starts `executable` in the workspace directory.
    @discardableResult
    func start(_ name: String, _ executable: URL, _ arguments: [String], errors: Pipe? = nil) throws -> TestProcess {
        let process = try TestProcess(name: name, executable: executable, arguments: arguments, directory: root, errors: errors)
        processes.append(process)
        return process
    }

    /// Starts our tracker on a free port and waits until it accepts connections.
    func startTracker(arguments: [String] = []) async throws -> (TestProcess, Int) {
        let port = freePort()
        let process = try start("tracker-\(port)", Paths.tracker, ["-port", "\(port)"] + arguments)
        await waitUntil("tracker on port \(port)") { isListening(port: port) }
        return (process, port)
    }

    /// Starts our client on `folder` with a free transfer port.
    @discardableResult
    func startClient(_ name: String, folder: String, trackerPort: Int, extra: [String] = []) throws -> TestProcess {
        try start(
            name,
            Paths.client,
            [
                "-folder", root.appendingPathComponent(folder).path, "-transfer_port", "\(freePort())", "-name", name,
                "-tracker", "127.0.0.1:\(trackerPort)", "-headless",
            ] + extra
        )
    }

    /// A folder "seeder" holding all of `file`, an empty folder `empty` for the same file, and a
    /// tracker; returns the tracker's port.
    func prepareSwarm(_ file: [Int: Data], emptyFolder empty: String) async throws -> Int {
        try makeFolder("seeder", chunks: file, total: file.count)
        try makeFolder(empty, chunks: [:], total: file.count)
        return try await startTracker().1
    }

    /// A tracker, a client "seeder" holding all of `file`, and a client "leecher" starting from
    /// an empty folder with `leecherArguments`.
    func startSeederAndLeecher(_ file: [Int: Data], leecherArguments: [String]) async throws -> TestProcess {
        let port = try await prepareSwarm(file, emptyFolder: "leecher")
        try startClient("seeder", folder: "seeder", trackerPort: port)
        return try startClient("leecher", folder: "leecher", trackerPort: port, extra: leecherArguments)
    }

    /// ``startSeederAndLeecher(_:leecherArguments:)`` with 4 chunks of 400 KiB downloaded at
    /// 100 KiB/s, so that a chunk takes seconds; returns once the leecher is receiving one.
    func startLeecherMidTransfer() async throws -> TestProcess {
        let leecher = try await startSeederAndLeecher(SwarmExchangeTests.file(chunks: 4, size: 400 * 1024), leecherArguments: ["-download-limit", "100"])
        await waitUntil("a chunk is being received") { !partialFiles(in: "leecher").isEmpty }
        return leecher
    }

    /// The temporary files of downloads under way in `folder`.
    func partialFiles(in folder: String) -> [String] {
        let path = root.appendingPathComponent(folder).path
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix(".swarm-partial-") }
    }

    /// Starts the seed-era Python peer on `folder`.
    @discardableResult
    func startSeedPeer(_ name: String, folder: String, trackerPort: Int, corrupt: Bool = false) throws -> TestProcess {
        try start(
            name,
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", Paths.seedPeer.path, "-folder", root.appendingPathComponent(folder).path,
                "-transfer_port", "\(freePort())", "-name", name, "-tracker_port", "\(trackerPort)",
            ] + (corrupt ? ["-corrupt"] : [])
        )
    }

    /// The indexes listed in a folder's `local_chunks.txt` (without the LASTCHUNK line).
    func listedChunks(_ folder: String) -> Set<Int> {
        let url = root.appendingPathComponent(folder).appendingPathComponent("local_chunks.txt")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return Set(
            text.split(whereSeparator: \.isNewline).compactMap { line -> Int? in
                let parts = line.split(separator: ",")
                guard parts.count == 2, parts[1].trimmingCharacters(in: .whitespaces) != "LASTCHUNK" else { return nil }
                return Int(parts[0].trimmingCharacters(in: .whitespaces))
            }
        )
    }

    /// The bytes of `chunk_<index>` in a folder.
    func chunk(_ index: Int, in folder: String) -> Data? {
        try? Data(contentsOf: root.appendingPathComponent(folder).appendingPathComponent("chunk_\(index)"))
    }

    /// The shared `logger.log` of the workspace.
    var log: String {
        (try? String(contentsOf: root.appendingPathComponent("logger.log"), encoding: .utf8)) ?? ""
    }
}

/// Runs blocking socket work on a thread of its own. Tests share the cooperative thread pool (one
/// thread per core): a test blocked in read(2) there stalls every other test's waits and deadlines.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// A TCP connection to 127.0.0.1:`port` with a 2 s read timeout, or `nil` if refused. Close it.
func connectLoopback(port: Int) -> Int32? { LoopbackSocket.connected(port: port, readTimeout: .seconds(2)) }

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func isListening(port: Int) -> Bool {
    guard let descriptor = connectLoopback(port: port) else { return false }
    close(descriptor)
    return true
}

/// Writes all of `text` to a socket.
@discardableResult
func send(_ text: String, to descriptor: Int32) -> Bool {
    let bytes = Array(text.utf8)
    return write(descriptor, bytes, bytes.count) == bytes.count
}

/// Sends one `\n`-terminated message to our tracker and returns its one-line answer
/// (empty when the tracker closed without answering, `nil` when it refused the connection).
func ask(trackerPort port: Int, _ message: String) -> String? {
    LoopbackSocket.ask(port: port, message + "\n", readTimeout: .seconds(2))?.trimmingCharacters(in: .whitespacesAndNewlines)
}
