import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The other BitTorrent programs the tests run against, all from Debian, all on 127.0.0.1.
enum TorrentTools {
    static let python = URL(fileURLWithPath: "/usr/bin/python3")
    static let opentracker = URL(fileURLWithPath: "/usr/bin/opentracker")
    static let aria2c = URL(fileURLWithPath: "/usr/bin/aria2c")
    static var libtorrentPeer: URL { Bundle.module.url(forResource: "lt_peer", withExtension: "py", subdirectory: "Torrent")! }
    static var badPeer: URL { Bundle.module.url(forResource: "bt_peer", withExtension: "py", subdirectory: "Torrent")! }

    /// Whether python3-libtorrent, opentracker and aria2 are installed (`.ci/run` installs them).
    static let available: Bool = {
        let probe = Process()
        probe.executableURL = python
        probe.arguments = ["-c", "import libtorrent"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 && FileManager.default.isExecutableFile(atPath: opentracker.path)
            && FileManager.default.isExecutableFile(atPath: aria2c.path)
    }()

    /// aria2c's flags for a test on loopback: no DHT, LPD, PEX or IPv6.
    static let aria2Flags = [
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
        "--interface=127.0.0.1", "--disable-ipv6=true", "--summary-interval=0", "--console-log-level=warn",
    ]
}

/// A multi-file content folder and its torrent, as the tests share them.
struct TorrentFixture {
    /// The folder holding `album/…`, the content as a seeder has it.
    let seedFolder: URL
    let torrent: URL
    let infoHash: String
    /// Relative path → bytes.
    let files: [String: Data]

    /// Odd sizes, a 1-byte file, a file in a subfolder; 256 KiB pieces unless told.
    static let defaultFiles: [String: Int] = ["a.bin": 1_000_003, "one": 1, "sub/c.dat": 300_001, "sub/deeper/d": 70_000]
}

extension Workspace {
    /// Writes `files` (relative path → size) under `seed/album`, makes a v1 torrent of them with
    /// libtorrent announcing to `announce`, and reads its info-hash.
    func makeTorrent(
        files: [String: Int] = TorrentFixture.defaultFiles, pieceSize: Int = 256 << 10, announce: String, moreTiers: [String] = [], name: String = "album",
        torrentName: String? = nil
    ) throws -> TorrentFixture {
        let seed = root.appendingPathComponent("seed")
        var contents: [String: Data] = [:]
        for (index, (path, size)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            let url = seed.appendingPathComponent(name).appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let data = Workspace.content(of: 1000 + index, size: size)
            try data.write(to: url)
            contents[path] = data
        }
        let torrent = root.appendingPathComponent("\(torrentName ?? name).torrent")
        let maker = try start(
            "make-\(torrentName ?? name)", TorrentTools.python,
            [TorrentTools.libtorrentPeer.path, "--make-torrent", seed.appendingPathComponent(name).path, "--piece-size", "\(pieceSize)", "--out", torrent.path]
                + ([announce] + moreTiers).flatMap { ["--announce", $0] })
        maker.process.waitUntilExit()
        let hasher = Process()
        let output = Pipe()
        hasher.executableURL = TorrentTools.python
        hasher.arguments = ["-c", "import libtorrent as lt, sys; print(lt.torrent_info(sys.argv[1]).info_hash())", torrent.path]
        hasher.standardOutput = output
        try hasher.run()
        let hash = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        hasher.waitUntilExit()
        return TorrentFixture(seedFolder: seed, torrent: torrent, infoHash: hash, files: contents)
    }

    /// Starts opentracker on a free port with `infoHashes` whitelisted; returns its announce URL.
    func startOpentracker(infoHashes: [String]) async throws -> String {
        let port = freePort()
        let directory = root.appendingPathComponent("opentracker-\(port)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try (infoHashes.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("whitelist"), atomically: true, encoding: .utf8)
        // It reads the whitelist after chrooting into the folder as nobody: both must be readable.
        chmod(root.path, 0o755)
        chmod(directory.path, 0o755)
        chmod(directory.appendingPathComponent("whitelist").path, 0o644)
        try start("opentracker", TorrentTools.opentracker, ["-i", "127.0.0.1", "-p", "\(port)", "-P", "\(port)", "-d", directory.path, "-w", "whitelist"])
        await waitUntil("opentracker listening") { isListening(port: port) }
        return "http://127.0.0.1:\(port)/announce"
    }

    /// Starts a libtorrent peer for `fixture` saving into `folder` (relative to the workspace).
    func startLibtorrent(_ name: String, _ fixture: TorrentFixture, folder: String, port: Int = freePort(), timeout: Int = 120) throws -> TestProcess {
        let save = root.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: save, withIntermediateDirectories: true)
        return try start(
            name, TorrentTools.python,
            [TorrentTools.libtorrentPeer.path, "--torrent", fixture.torrent.path, "--save", save.path, "--port", "\(port)", "--timeout", "\(timeout)"])
    }

    /// Starts our client on `fixture` with `folder` (relative) as its folder.
    func startTorrentClient(_ name: String, _ fixture: TorrentFixture, folder: String, port: Int = freePort(), extra: [String] = ["-exit-when-complete"]) throws -> TestProcess {
        try start(
            name, Paths.client,
            ["-torrent", fixture.torrent.path, "-folder", root.appendingPathComponent(folder).path, "-transfer_port", "\(port)", "-name", name, "-headless"] + extra)
    }

    /// Whether `folder` (relative) holds every file of `fixture`, byte for byte, as `album/<path>`.
    func holdsContent(_ fixture: TorrentFixture, in folder: String) -> Bool {
        fixture.files.allSatisfy { path, data in
            (try? Data(contentsOf: root.appendingPathComponent(folder).appendingPathComponent("album").appendingPathComponent(path))) == data
        }
    }

    /// Waits for `process` to exit; its status, or nil if it did not within `timeout`.
    func exitStatus(of process: TestProcess, timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.process.terminationStatus
    }
}
