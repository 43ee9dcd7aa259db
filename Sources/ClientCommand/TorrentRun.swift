import Logging
import NIOPosix
import SwarmCore
import SwarmTorrent
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `client -torrent FILE -folder DIR …` or `client -magnet LINK …`: checks the torrent (or the
/// link) and where its files would go before anything is written, then runs a
/// ``TorrentSession`` (through a ``MagnetSession`` for a link) drawn by the terminal UI or
/// printed line by line.
struct TorrentRun {
    /// Where the torrent comes from.
    enum Source {
        case file(String)
        case magnet(String)
    }

    let command: ClientCommand
    let source: Source

    func run() async throws {
        let folder = command.folder!
        guard case .file(let torrentPath) = source else {
            try await runMagnet(folder: folder)
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readBytes(torrentPath)
        } catch {
            throw ClientFailure(reason: "cannot read the torrent \(error)")
        }
        let metainfo: Metainfo
        do {
            metainfo = try Metainfo(parsing: bytes)
        } catch {
            throw ClientFailure(reason: "\(torrentPath): not a usable torrent: \(error)")
        }
        // Where every file would go is checked before the folder or any file is made.
        if FileSystem.realPath(folder) != nil {
            do {
                _ = try TorrentStorage.plan(metainfo, in: folder)
            } catch {
                throw ClientFailure(reason: "\(torrentPath): \(error)")
            }
        } else if mkdir(folder, 0o755) != 0 {
            throw ClientFailure(reason: "cannot create the folder \(folder): \(FileSystem.lastError)")
        }
        let lock = try FolderLock.acquire(folder)
        defer { withExtendedLifetime(lock) {} }
        let storage: TorrentStorage
        do {
            storage = try await TorrentStorage.open(metainfo, in: folder, threadPool: NIOThreadPool.singleton)
        } catch {
            throw ClientFailure(reason: "\(torrentPath): \(error)")
        }
        let (configuration, logger) = try settings()
        let session = TorrentSession(metainfo: metainfo, storage: storage, configuration: configuration, logger: logger)
        let tracker = metainfo.announceTiers.first?.first ?? "no tracker"
        try await ClientSession(swarm: session, name: configuration.name, tracker: tracker, showsInterface: command.showsInterface).run()
    }

    private func runMagnet(folder: String) async throws {
        guard case .magnet(let text) = source else { return }
        let link: MagnetLink
        do {
            link = try MagnetLink(parsing: text)
        } catch {
            throw ClientFailure(reason: "-magnet: \(error)")
        }
        if FileSystem.realPath(folder) == nil, mkdir(folder, 0o755) != 0 {
            throw ClientFailure(reason: "cannot create the folder \(folder): \(FileSystem.lastError)")
        }
        let lock = try FolderLock.acquire(folder)
        defer { withExtendedLifetime(lock) {} }
        let (configuration, logger) = try settings()
        let session = MagnetSession(link: link, folder: folder, configuration: configuration, logger: logger)
        try await ClientSession(swarm: session, name: configuration.name, tracker: link.trackers.first ?? "no tracker", showsInterface: command.showsInterface).run()
    }

    /// The session's settings from the flags, and its logger (`logger.log`).
    private func settings() throws -> (TorrentSession.Configuration, Logger) {
        let logFile = try LogFile()
        let name = command.name!
        let logger = Logger(label: name) { LineLogHandler.seed(name: $0, file: logFile) }
        var configuration = TorrentSession.Configuration(name: name, port: command.transferPort!)
        configuration.exitWhenComplete = command.exitWhenComplete
        configuration.startPaused = command.paused
        configuration.maxBadPieces = command.maxBadChunks
        configuration.sequential = command.sequential
        configuration.uploadLimit = command.uploadLimit.map { TokenBucket(bytesPerSecond: Double($0) * 1024) }
        configuration.downloadLimit = command.downloadLimit.map { TokenBucket(bytesPerSecond: Double($0) * 1024) }
        return (configuration, logger)
    }
}
