import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `swarm-bench`: measures Swarm's data path on loopback against baselines measured in the same
/// run, and prints figures and ratios. Absolute times vary on shared machines; ratios do not.
///
/// Scenarios (sizes scale with `-mib`, default 1024):
/// - 1 seeder → 1 client over real `tracker` and `client` processes vs a raw loopback TCP copy;
/// - SHA-1 of the file as the client computes it vs `openssl sha1`.
@main
struct SwarmBench {
    static func main() throws {
        let arguments = CommandLine.arguments
        func value(_ flag: String, _ fallback: Int) -> Int {
            guard let position = arguments.firstIndex(of: flag), position + 1 < arguments.count else { return fallback }
            return Int(arguments[position + 1]) ?? fallback
        }
        let mebibytes = value("-mib", 1024)
        let chunks = value("-chunks", 64)
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-bench-\(getpid())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }

        print("swarm-bench: \(mebibytes) MiB in \(chunks) chunks, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let data = try Workbench.makeFile(in: root, mebibytes: mebibytes, chunks: chunks)
        var rows: [(String, String, String, String)] = []

        let raw = try Loopback.copy(file: data.whole)
        let swarm = try Workbench.transfer(root: root, binaries: binaries, chunks: chunks)
        let bytes = Double(mebibytes) * 1_048_576
        rows.append((
            "1 seeder -> 1 client", Rate.text(bytes / swarm), "raw loopback copy " + Rate.text(bytes / raw),
            String(format: "%.3g (target >= 0.80)", raw / swarm)
        ))

        let ours = try Timing.seconds { _ = try Hashing.sha1(of: data.whole.path) }
        let openssl = try Timing.seconds { try Hashing.openssl(data.whole.path) }
        rows.append(("SHA-1 of the file", Rate.text(bytes / ours), "openssl sha1 " + Rate.text(bytes / openssl),
                     String(format: "%.3g (target >= 0.90)", openssl / ours)))

        let seconds = value("-seconds", 10)
        let roundTrips = try Workbench.trackerRoundTrips(root: root, binaries: binaries, connections: 50, seconds: seconds)
        rows.append((
            "tracker WHERE_CHUNK, 50 connections, \(seconds) s", String(format: "%.0f answers/s", roundTrips.perSecond),
            String(format: "p50 %.3f ms, p99 %.3f ms", roundTrips.p50, roundTrips.p99),
            String(format: "%.3g of 100,000/s target", roundTrips.perSecond / 100_000)
        ))

        print("")
        print("| scenario | Swarm | baseline (same run) | ratio |")
        print("|---|---|---|---|")
        for row in rows { print("| \(row.0) | \(row.1) | \(row.2) | \(row.3) |") }
    }
}

enum Rate {
    static func text(_ bytesPerSecond: Double) -> String {
        bytesPerSecond >= 1_073_741_824
            ? String(format: "%.2f GiB/s", bytesPerSecond / 1_073_741_824) : String(format: "%.1f MiB/s", bytesPerSecond / 1_048_576)
    }
}

enum Timing {
    static func seconds(_ work: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try work()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

enum Hashing {
    /// SHA-1 in 1 MiB blocks, as the client hashes its chunks.
    static func sha1(of path: String) throws -> Insecure.SHA1Digest {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var hasher = Insecure.SHA1()
        while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty { hasher.update(data: block) }
        return hasher.finalize()
    }

    static func openssl(_ path: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "sha1", path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }
}

/// The raw loopback baseline: one sender (`sendfile`) and one receiver (read and discard).
enum Loopback {
    /// Binds `descriptor` to a free port on 127.0.0.1; returns the port.
    static func bindAnyPort(_ descriptor: Int32) -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length); return getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A port on 127.0.0.1 that nothing listens on now.
    static func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        return bindAnyPort(descriptor)
    }

    /// A connected socket to 127.0.0.1:`port` (-1 when refused; reads and writes then fail).
    static func connected(port: Int) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return -1
        }
        return descriptor
    }

    /// One question to a tracker on 127.0.0.1:`port`; its answer, or `nil` if it is not up.
    static func ask(port: Int, _ message: String) -> String? {
        let descriptor = connected(port: port)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard write(descriptor, message, message.utf8.count) == message.utf8.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(descriptor, &buffer, buffer.count)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    static func copy(file: URL) throws -> Double {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        let port = bindAnyPort(listener)
        listen(listener, 1)
        let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        let path = file.path
        return try Timing.seconds {
            let sender = Thread {
                let out = connected(port: port)
                let input = open(path, O_RDONLY)
                var offset: off_t = 0
                while offset < size { if sendfile(out, input, &offset, size - Int(offset)) <= 0 { break } }
                close(input)
                close(out)
            }
            sender.start()
            let connection = accept(listener, nil, nil)
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var received = 0
            while true {
                let count = read(connection, &buffer, buffer.count)
                guard count > 0 else { break }
                received += count
            }
            guard received == size else { throw BenchError("raw copy received \(received) of \(size) bytes") }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Test data and the real processes.
enum Workbench {
    /// Writes the file whole (for the baselines) and as a seeder's chunk folder.
    static func makeFile(in root: URL, mebibytes: Int, chunks: Int) throws -> (whole: URL, seeder: URL) {
        let whole = root.appendingPathComponent("file.bin")
        let seeder = root.appendingPathComponent("seeder")
        try FileManager.default.createDirectory(at: seeder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: whole.path, contents: nil)
        let output = try FileHandle(forWritingTo: whole)
        let chunkBytes = mebibytes * 1_048_576 / chunks
        var state: UInt64 = 0x1234_5678
        var list = ""
        for index in 1...chunks {
            var bytes = [UInt8](repeating: 0, count: chunkBytes)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for position in words.indices {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    words[position] = state
                }
            }
            let data = Data(bytes)
            try output.write(contentsOf: data)
            try data.write(to: seeder.appendingPathComponent("chunk_\(index)"))
            list += "\(index),chunk_\(index)\n"
        }
        try output.close()
        list += "\(chunks),LASTCHUNK\n"
        try list.write(to: seeder.appendingPathComponent("local_chunks.txt"), atomically: true, encoding: .utf8)
        return (whole, seeder)
    }

    /// Seconds from starting the client to its exit with every chunk on disk.
    static func transfer(root: URL, binaries: URL, chunks: Int) throws -> Double {
        let leecher = root.appendingPathComponent("leecher")
        try FileManager.default.createDirectory(at: leecher, withIntermediateDirectories: true)
        try "\(chunks),LASTCHUNK\n".write(to: leecher.appendingPathComponent("local_chunks.txt"), atomically: true, encoding: .utf8)
        let trackerPort = Loopback.freePort()
        let tracker = try start(binaries.appendingPathComponent("tracker"), ["-port", "\(trackerPort)"], in: root)
        defer { tracker.terminate() }
        let seeder = try start(
            binaries.appendingPathComponent("client"),
            ["-folder", "seeder", "-transfer_port", "\(Loopback.freePort())", "-name", "seeder", "-tracker", "127.0.0.1:\(trackerPort)", "-headless"],
            in: root)
        defer { seeder.terminate() }
        // The clock starts once the seeder has hashed and registered its last chunk.
        let deadline = ContinuousClock.now + .seconds(60)
        while Loopback.ask(port: trackerPort, "WHERE_CHUNK,\(chunks)\n")?.hasPrefix("GET_CHUNK_FROM") != true {
            guard ContinuousClock.now < deadline else { throw BenchError("the seeder did not register within 60 s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try Timing.seconds {
            let client = try start(
                binaries.appendingPathComponent("client"),
                ["-folder", "leecher", "-transfer_port", "\(Loopback.freePort())", "-name", "leecher", "-tracker", "127.0.0.1:\(trackerPort)",
                 "-headless", "-exit-when-complete"],
                in: root)
            client.waitUntilExit()
            guard client.terminationStatus == 0 else { throw BenchError("client exited \(client.terminationStatus)") }
        }
    }

    /// Round trips of `WHERE_CHUNK` on `connections` persistent connections for `seconds`.
    static func trackerRoundTrips(root: URL, binaries: URL, connections: Int, seconds: Int) throws -> (perSecond: Double, p50: Double, p99: Double) {
        let port = Loopback.freePort()
        let tracker = try start(binaries.appendingPathComponent("tracker"), ["-port", "\(port)"], in: root)
        defer { tracker.terminate() }
        let deadline = ContinuousClock.now + .seconds(30)
        while Loopback.ask(port: port, "WHERE_CHUNK,1\n") == nil {
            guard ContinuousClock.now < deadline else { throw BenchError("the tracker did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        // Registrations get no answer: write it, then ask once to know it has been read.
        let registration = "LOCAL_CHUNKS,1,\(String(repeating: "a", count: 40)),127.0.0.1,6000\nWHERE_CHUNK,1\n"
        guard Loopback.ask(port: port, registration)?.hasPrefix("GET_CHUNK_FROM,1,") == true else {
            throw BenchError("the tracker did not take the registration")
        }
        let samples = Mutex<[Double]>([])
        let group = DispatchGroup()
        let end = ContinuousClock.now + .seconds(seconds)
        for _ in 0..<connections {
            group.enter()
            Thread {
                defer { group.leave() }
                var local: [Double] = []
                let descriptor = Loopback.connected(port: port)
                defer { close(descriptor) }
                let question = Array("WHERE_CHUNK,1\n".utf8)
                var buffer = [UInt8](repeating: 0, count: 256)
                while ContinuousClock.now < end {
                    let started = ContinuousClock.now
                    guard write(descriptor, question, question.count) == question.count else { break }
                    var answered = false
                    while !answered {
                        let count = read(descriptor, &buffer, buffer.count)
                        guard count > 0 else { return }
                        answered = buffer[0..<count].contains(UInt8(ascii: "\n"))
                    }
                    let elapsed = ContinuousClock.now - started
                    local.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                }
                samples.withLock { $0 += local }
            }.start()
        }
        group.wait()
        let latencies = samples.withLock { $0 }.sorted()
        guard !latencies.isEmpty else { throw BenchError("no tracker answers") }
        return (Double(latencies.count) / Double(seconds), latencies[latencies.count / 2], latencies[latencies.count * 99 / 100])
    }

    static func start(_ executable: URL, _ arguments: [String], in directory: URL) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
