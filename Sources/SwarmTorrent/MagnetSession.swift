import Logging
import NIOPosix
import SwarmCore
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `client -magnet`: gets the torrent's metadata from peers first (the UI says so meanwhile),
/// keeps it as `DIR/.swarm/<infohash>.torrent` so a restart needs no peers for it, then runs a
/// ``TorrentSession`` on it, passing its events on.
public actor MagnetSession: SwarmEngine {
    public nonisolated let events: AsyncStream<SwarmEvent>
    private let sink: AsyncStream<SwarmEvent>.Continuation
    private let link: MagnetLink
    private let folder: String
    private let configuration: TorrentSession.Configuration
    private let logger: Logger
    private var session: TorrentSession?
    /// Commands given before the metadata came, carried out once it has.
    private var paused: Bool
    private var requests: [Int] = []

    public init(link: MagnetLink, folder: String, configuration: TorrentSession.Configuration, logger: Logger) {
        self.link = link
        self.folder = folder
        self.configuration = configuration
        self.logger = logger
        self.paused = configuration.startPaused
        (events, sink) = AsyncStream.makeStream(of: SwarmEvent.self)
    }

    /// Where the metadata is kept.
    public static func torrentPath(for infoHash: InfoHash, in folder: String) -> String {
        "\(folder)/.swarm/\(infoHash.hex).torrent"
    }

    public func run() async throws {
        defer { sink.finish() }
        let path = Self.torrentPath(for: link.infoHash, in: folder)
        var metainfo = (try? FileSystem.readBytes(path)).flatMap { try? Metainfo(parsing: $0) }
        if metainfo?.infoHash != link.infoHash { metainfo = nil }
        if metainfo == nil {
            sink.yield(.fetchingMetadata(name: link.name))
            let fetch = MetadataFetch(link: link, peerID: configuration.peerID, port: configuration.port)
            let sink = self.sink
            let bytes = try await fetch.run { sink.yield(.problem($0)) }
            let parsed: Metainfo
            do {
                parsed = try Metainfo(parsing: bytes)
            } catch {
                throw MagnetError.unusable("\(error)")
            }
            try ResumeData.makeStateFolder(in: folder)
            try FileSystem.replaceAtomically(path, with: bytes)
            logger.info("metadata of \(parsed.name) (\(parsed.infoHash)) kept in \(path)")
            metainfo = parsed
        }
        guard let metainfo else { return }
        // Opening plans every path inside the folder first, refusing one that would leave it.
        let storage = try await TorrentStorage.open(metainfo, in: folder, threadPool: .singleton)
        var configuration = self.configuration
        configuration.startPaused = paused
        let session = TorrentSession(metainfo: metainfo, storage: storage, configuration: configuration, logger: logger)
        self.session = session
        for value in requests { try? await session.request(value) }
        let sink = self.sink
        let forward = Task { for await event in session.events { sink.yield(event) } }
        defer { forward.cancel() }
        try await session.run()
        await forward.value
    }

    public func pause() {
        paused = true
        if let session { Task { await session.pause() } }
    }

    public func resume() {
        paused = false
        if let session { Task { await session.resume() } }
    }

    public func setSequential(_ sequential: Bool) {
        if let session { Task { await session.setSequential(sequential) } }
    }

    public func setPriority(_ priority: FilePriority, ofFile index: Int) throws(Swarm.CommandError) {
        guard let session else { throw .noSuchFile(index, count: 0) }
        Task { try? await session.setPriority(priority, ofFile: index) }
    }

    public func request(_ value: Int) throws(Swarm.CommandError) {
        guard let session else {
            requests.append(value)
            return
        }
        Task { try? await session.request(value) }
    }
}

/// Why a magnet link's metadata cannot be used.
public enum MagnetError: Error, CustomStringConvertible {
    case unusable(String)

    public var description: String {
        switch self {
        case .unusable(let reason): return "the metadata peers gave is not a usable torrent: \(reason)"
        }
    }
}
