import Logging
import NIOCore
import NIOPosix
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// One torrent, downloaded and seeded (BEP 3): the BitTorrent engine behind `client -torrent`.
///
/// It tells its consumers everything through the same ``SwarmEvent``s as the classic engine, a
/// piece being a chunk numbered from 1, so the terminal UI and the headless printer serve both.
/// Its parts, one file each: the peer connections and their messages
/// (`TorrentSession+Peers.swift`), the trackers (`TorrentSession+Announce.swift`), and the
/// periodic work: choking, dropping stalled peers, dialling, resume data
/// (`TorrentSession+Upkeep.swift`).
///
/// Nothing unverified ever counts: blocks are written in place, and a piece is announced,
/// served and recorded in the resume data only once its SHA-1 matched.
public actor TorrentSession: SwarmEngine {
    /// How a torrent client runs.
    public struct Configuration: Sendable {
        /// The client's name, for the UI and logs.
        public var name: String
        /// The listen port; 0 picks a free one.
        public var port: Int
        /// The local address to listen on.
        public var listenHost = "0.0.0.0"
        /// Our peer id: `-SW0100-` and twelve random characters.
        public var peerID = TorrentSession.makePeerID()
        /// Paces what we upload, if set.
        public var uploadLimit: TokenBucket?
        /// Paces what we download, if set.
        public var downloadLimit: TokenBucket?
        /// Pieces with bad data after which a peer is banned for the run.
        public var maxBadPieces = 3
        /// Stop once every piece is held.
        public var exitWhenComplete = false
        /// Start with fetching paused (seeding goes on).
        public var startPaused = false
        /// Fetch pieces in order rather than rarest first.
        public var sequential = false
        /// Connections at once, in and out.
        public var maxPeers = 50
        /// Retry timing for a tracker that cannot be reached.
        public var announceBackoff = Backoff(initial: .seconds(2), cap: .seconds(120))
        /// A peer that sent nothing for this long is dropped.
        public var idleTimeout: Duration = .seconds(150)
        /// A peer that owes us blocks and sent none for this long is dropped.
        public var stallTimeout: Duration = .seconds(30)

        public init(name: String, port: Int) {
            self.name = name
            self.port = port
        }
    }

    public nonisolated let events: AsyncStream<SwarmEvent>
    let sink: AsyncStream<SwarmEvent>.Continuation
    let configuration: Configuration
    let metainfo: Metainfo
    let storage: TorrentStorage
    let logger: Logger

    var book: PieceBook
    var paused: Bool
    /// Connected peers by connection number.
    var peers: [Int: ConnectedPeer] = [:]
    /// Connections we are closing, and why.
    var closing: [Int: String] = [:]
    var nextLinkID = 1
    /// Peers the trackers named, and when each was last dialled.
    var knownPeers: [PeerEndpoint: ContinuousClock.Instant?] = [:]
    /// Endpoints being dialled now.
    var dialling: Set<PeerEndpoint> = []
    /// Where dial requests go; the dialler opens each connection.
    let dials: AsyncStream<PeerEndpoint>.Continuation
    let dialQueue: AsyncStream<PeerEndpoint>
    /// Told once every wanted piece is held, to end the session at once with
    /// ``Configuration/exitWhenComplete``.
    let finished: AsyncStream<Void>.Continuation
    let finishedSignal: AsyncStream<Void>
    /// Pieces with a bad SHA-1 each peer sent, by peer id.
    var badPieces: [[UInt8]: Int] = [:]
    var bannedIDs: Set<[UInt8]> = []
    /// The pieces under way, their blocks kept in memory until each is complete.
    var assemblies: [Int: PieceAssembly] = [:]
    /// The blocks of pieces that failed their check with several senders, with each block's
    /// SHA-1, kept until a good copy shows whose block was bad.
    var suspectBlocks: [Int: [Int: (BlockSender, [UInt8])]] = [:]
    /// When each piece under way was first asked for, for the time its fetch took.
    var pieceStarted: [Int: ContinuousClock.Instant] = [:]
    var uploaded: Int64 = 0
    var downloaded: Int64 = 0
    var choker = Choker()
    var resumeDirty = false
    /// Whether a resume write is under way (the next one waits for it).
    var savingResume = false
    var announcedComplete = false
    /// Set when the download completes, for the announcer to say so at once.
    var completedToAnnounce = false
    /// Announces to `udp://` trackers, keeping their connection ids.
    let udpTracker = UDPTrackerClient()
    /// Each file's priority, in torrent order.
    var filePriorities: [FilePriority]
    /// The port we listen on, once bound.
    var listenPort = 0
    /// What the UI was last told of piece counts and of each peer, to send only changes.
    var shownAvailability: [Int] = []
    var shownStatus: [Int: PeerStatus] = [:]
    var shownFiles: [FileProgress] = []

    /// A session for `metainfo` over `storage`.
    public init(metainfo: Metainfo, storage: TorrentStorage, configuration: Configuration, logger: Logger) {
        self.metainfo = metainfo
        self.storage = storage
        self.configuration = configuration
        self.logger = logger
        self.paused = configuration.startPaused
        self.filePriorities = [FilePriority](repeating: .normal, count: metainfo.files.count)
        self.book = PieceBook(pieceCount: metainfo.pieceCount, pieceLength: metainfo.pieceLength, totalLength: metainfo.totalLength, held: Bitfield(count: metainfo.pieceCount))
        (events, sink) = AsyncStream.makeStream(of: SwarmEvent.self)
        (dialQueue, dials) = AsyncStream.makeStream(of: PeerEndpoint.self)
        (finishedSignal, finished) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A peer id in the usual client-prefix form: `-SW0100-` and twelve random characters.
    public static func makePeerID() -> [UInt8] {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        return Array("-SW0100-".utf8) + (0..<12).map { _ in alphabet.randomElement()! }
    }

    /// Checks what the folder holds, then downloads and seeds until cancelled, or until complete
    /// with ``Configuration/exitWhenComplete``.
    ///
    /// - Throws: ``ListenFailure`` when the port cannot be listened on, or a storage error.
    public func run() async throws {
        defer { sink.finish() }
        let held = await checkContent()
        book = PieceBook(pieceCount: metainfo.pieceCount, pieceLength: metainfo.pieceLength, totalLength: metainfo.totalLength, held: held)
        book.paused = paused
        book.sequential = configuration.sequential
        applyPriorities()
        let maximumLength = PeerWireDecoder.maximumLength(pieceCount: metainfo.pieceCount)
        let server: NIOAsyncChannel<PeerSockets.Channel, Never>
        do {
            server = try await PeerSockets.listen(host: configuration.listenHost, port: configuration.port, maximumLength: maximumLength)
        } catch {
            throw ListenFailure(host: configuration.listenHost, port: configuration.port, error: error)
        }
        listenPort = server.channel.localAddress?.port ?? configuration.port
        emit(.started(
            name: configuration.name, folder: storage.folder, total: metainfo.pieceCount,
            held: Set(held.heldPieces.map { ChunkIndex($0 + 1) }),
            serving: PeerAddress(host: configuration.listenHost, port: listenPort) ?? PeerAddress(host: "0.0.0.0", port: listenPort)!
        ))
        emit(.torrent(name: metainfo.name, bytes: metainfo.totalLength))
        reportFiles()
        logger.info("torrent \(metainfo.name) (\(metainfo.infoHash)): \(held.heldCount)/\(metainfo.pieceCount) pieces held; listening on port \(listenPort)")
        if paused { emit(.paused(true)) }
        if held.isFull { await finishDownload() }
        if book.isFinished { finished.yield() }

        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.acceptConnections(server, maximumLength: maximumLength) }
                group.addTask { await self.dialPeers(maximumLength: maximumLength) }
                group.addTask { await self.announceLoop() }
                group.addTask { try await self.upkeepLoop() }
                if configuration.exitWhenComplete {
                    group.addTask {
                        for await _ in self.finishedSignal { throw DownloadFinished() }
                    }
                }
            }
        } catch is DownloadFinished {
            // Complete, with exitWhenComplete.
        } catch is CancellationError {
        }
        dials.finish()
        while savingResume { try? await Task.sleep(for: .milliseconds(5)) }
        await saveResume()
        // A stop signal cancelled this task: the goodbye is said from a task of its own, which
        // that cancellation does not reach (cancelled, it never left, and trackers counted the
        // peer for two more intervals).
        await Task { await self.announceStopped() }.value
        storage.close()
    }

    /// The pieces known good: the resume data's, if the files still have the sizes it recorded,
    /// and any other piece within the bytes the files already had whose SHA-1 matches.
    private func checkContent() async -> Bitfield {
        var held = Bitfield(count: metainfo.pieceCount)
        let resumePath = ResumeData.path(for: metainfo.infoHash, in: storage.folder)
        if let bytes = try? FileSystem.readBytes(resumePath),
            let resume = ResumeData(bytes: bytes, infoHash: metainfo.infoHash, pieceCount: metainfo.pieceCount),
            resume.fileSizes == storage.fileSizes()
        {
            held = resume.pieces
        }
        let toCheck = (0..<metainfo.pieceCount).filter { !held[$0] && storage.wasPresent(piece: $0) }
        if !toCheck.isEmpty { logger.info("checking \(toCheck.count) pieces already on disk") }
        for piece in toCheck where (try? await storage.verify(piece: piece)) == true {
            held[piece] = true
        }
        if !toCheck.isEmpty {
            resumeDirty = true
            emit(.checked(count: toCheck.count, good: toCheck.filter { held[$0] }.count))
        }
        return held
    }

    // MARK: Commands

    public func pause() {
        guard !paused else { return }
        paused = true
        book.paused = true
        emit(.paused(true))
    }

    public func resume() {
        guard paused else { return }
        paused = false
        book.paused = false
        emit(.paused(false))
        for id in peers.keys { fillRequests(for: id) }
    }

    public func setSequential(_ sequential: Bool) {
        book.sequential = sequential
        logger.info(sequential ? "fetching pieces in order" : "fetching the rarest pieces first")
        for id in peers.keys { fillRequests(for: id) }
    }

    public func setPriority(_ priority: FilePriority, ofFile index: Int) throws(Swarm.CommandError) {
        guard filePriorities.indices.contains(index) else { throw .noSuchFile(index, count: filePriorities.count) }
        filePriorities[index] = priority
        applyPriorities()
        recountWanted()
        reportFiles()
        logger.info("file \(metainfo.files[index].path.joined(separator: "/")): \(priority.rawValue)")
        for id in peers.keys { fillRequests(for: id) }
    }

    /// Tells the piece book which pieces the files' priorities want, and which first: a piece
    /// is wanted while any file it reaches into is, and urgent when one of them is high.
    func applyPriorities() {
        var wanted = [Bool](repeating: false, count: metainfo.pieceCount)
        var urgent: [Int] = []
        for piece in 0..<metainfo.pieceCount {
            let files = storage.segments(piece: piece, begin: 0, length: metainfo.length(ofPiece: piece)).map(\.file)
            wanted[piece] = files.contains { filePriorities[$0] != .skip }
            if files.contains(where: { filePriorities[$0] == .high }) { urgent.append(piece) }
        }
        book.setWanted(wanted, urgent: urgent)
    }

    public func request(_ value: Int) throws(Swarm.CommandError) {
        guard (1...metainfo.pieceCount).contains(value) else { throw .noSuchChunk(value, total: metainfo.pieceCount) }
        guard book.prioritise(value - 1) else { throw .alreadyHeld(ChunkIndex(value)) }
        recountWanted()
        for id in peers.keys { fillRequests(for: id) }
    }

    func emit(_ event: SwarmEvent) { sink.yield(event) }

    /// Every piece is held: the resume data is written at once, the trackers told, and the
    /// consumers too; peers we were interested in hear that we are not any more.
    func finishDownload() async {
        guard !announcedComplete else { return }
        announcedComplete = true
        completedToAnnounce = true
        await saveResume()
        logger.info("complete: all \(metainfo.pieceCount) pieces held")
        emit(.complete(total: metainfo.pieceCount))
    }

    /// Writes the resume data if it changed.
    /// The write (an `fsync` and a rename) runs on the thread pool, one at a time, and is
    /// finished even when the session is being stopped.
    func saveResume() async {
        guard resumeDirty, !savingResume else { return }
        savingResume = true
        defer { savingResume = false }
        resumeDirty = false
        let record = ResumeData(pieces: book.held, fileSizes: storage.fileSizes())
        let (infoHash, folder) = (metainfo.infoHash, storage.folder)
        do {
            try await NIOThreadPool.singleton.runToCompletion { try record.save(infoHash: infoHash, in: folder) }
        } catch {
            resumeDirty = true
            emit(.problem("cannot write resume data (trying again): \(error)"))
        }
    }
}

/// Thrown inside the session's task group to end it once the download is complete.
struct DownloadFinished: Error {}
