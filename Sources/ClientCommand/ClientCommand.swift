import ArgumentParser
import Logging
import SwarmCore
import SwarmProtocol
import SwarmTUI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `client`: shares a chunk folder and fetches the chunks it lacks, with the seed's flags; with
/// `-torrent`, downloads and seeds a torrent's content; with `-demo`, a whole swarm in one
/// process, drawn live.
@main
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Shares the chunks in a folder and fetches the missing ones from other peers.",
        discussion: "Try `client -demo` to watch a whole swarm on this machine."
    )

    @Option(
        name: .customLong("folder", withSingleDash: true),
        help: "Chunk folder: chunk files plus local_chunks.txt (\"index,filename\" lines, then \"N,LASTCHUNK\")."
    )
    var folder: String?

    @Option(name: .customLong("transfer_port", withSingleDash: true), help: "Port serving chunks to other peers (1-65535).")
    var transferPort: Int?

    @Option(name: .customLong("name", withSingleDash: true), help: "This client's name, used in logs.")
    var name: String?

    @Option(
        name: .customLong("tracker", withSingleDash: true),
        help: "Tracker address, HOST:PORT ([IPv6]:PORT); several, comma-separated, to register with and ask each."
    )
    var tracker = "127.0.0.1:5100"

    @Option(
        name: .customLong("advertise", withSingleDash: true),
        help: "Address registered for our chunks (default: the address each tracker connection comes from; serving on every address)."
    )
    var advertise: String?

    @Flag(name: .customLong("exit-when-complete", withSingleDash: true), help: "Exit 0 once every chunk is held.")
    var exitWhenComplete = false

    @Flag(name: .customLong("headless", withSingleDash: true), help: "Print one line per event instead of the UI (automatic without a terminal).")
    var headless = false

    @Flag(name: .customLong("paused", withSingleDash: true), help: "Start with fetching paused (serving goes on).")
    var paused = false

    @Option(name: .customLong("max-bad-chunks", withSingleDash: true), help: "Stop using a peer after this many bad chunks.")
    var maxBadChunks = 3

    @Option(
        name: .customLong("max-fetches", withSingleDash: true),
        help: "Chunks fetched at once, from all peers together (default: 8, and on a long link one more per ms of round trip, up to 32)."
    )
    var maxFetches: Int?

    @Option(
        name: .customLong("max-fetches-per-peer", withSingleDash: true),
        help: "Chunks fetched at once from any one peer (default: 8, widened like -max-fetches)."
    )
    var maxFetchesPerPeer: Int?

    @Option(name: .customLong("upload-limit", withSingleDash: true), help: "Limit serving to this many KiB/s.")
    var uploadLimit: Int?

    @Option(name: .customLong("download-limit", withSingleDash: true), help: "Limit fetching to this many KiB/s.")
    var downloadLimit: Int?

    @Option(
        name: .customLong("torrent", withSingleDash: true),
        help: "A .torrent file: download its content into -folder (DIR/<name>), then seed it; -transfer_port is the BitTorrent port."
    )
    var torrent: String?

    @Option(
        name: .customLong("magnet", withSingleDash: true),
        help: "A magnet link: get the torrent's metadata from peers, then download and seed it as with -torrent."
    )
    var magnet: String?

    @Flag(name: .customLong("sequential", withSingleDash: true), help: "With -torrent or -magnet: fetch pieces in order, to play media while it downloads (o in the UI).")
    var sequential = false

    @Option(name: .customLong("make-torrent", withSingleDash: true), help: "Make a .torrent of this file or folder (with -announce and -o), then exit.")
    var makeTorrent: String?

    @Option(name: .customLong("announce", withSingleDash: true), help: "With -make-torrent: a tracker URL (repeat for more tiers).")
    var announce: [String] = []

    @Option(name: .customLong("piece-size", withSingleDash: true), help: "With -make-torrent: KiB per piece, a power of two from 16 to 16384 (default: from the size).")
    var pieceSize: Int?

    @Flag(name: .customLong("private", withSingleDash: true), help: "With -make-torrent: a private torrent (peers from its trackers only).")
    var isPrivate = false

    @Option(name: .customShort("o"), help: "With -make-torrent: where to write the .torrent.")
    var output: String?

    @Flag(name: .customLong("demo", withSingleDash: true), help: "Run a whole swarm in this process: a tracker, simulated peers, and this client.")
    var demo = false

    @Option(
        name: .customLong("chunks", withSingleDash: true),
        help: "With -folder: the number of chunks of the file to fetch, for a folder without local_chunks.txt (made with an empty list). With -demo: chunks in the demo's file (64)."
    )
    var chunks: Int?

    @Option(name: .customLong("share", withSingleDash: true), help: "Split this file into -folder (new or empty) as chunk_1..N and local_chunks.txt, then serve it.")
    var share: String?

    @Option(name: .customLong("chunk-size", withSingleDash: true), help: "With -share: KiB per chunk (default 4096).")
    var chunkSize: Int?

    @Option(
        name: .customLong("assemble", withSingleDash: true),
        help: "Once every chunk is held, write them in order to this file (never partial); with -exit-when-complete, exit after."
    )
    var assemble: String?

    @Option(name: .customLong("peers", withSingleDash: true), help: "Simulated peers in the demo.")
    var peers = 5

    func validate() throws {
        if makeTorrent != nil {
            try validateMakeTorrent()
            return
        }
        if share != nil, chunks != nil { throw ValidationError("-share and -chunks cannot be used together: -share makes the list from the file.") }
        if share != nil, torrent != nil || magnet != nil || demo { throw ValidationError("-share is for a chunk folder: not with -torrent, -magnet or -demo.") }
        if assemble != nil, torrent != nil || magnet != nil || demo { throw ValidationError("-assemble is for a chunk folder: not with -torrent, -magnet or -demo.") }
        if let assemble, let problem = SharedFile.problemAssembling(into: assemble) { throw ValidationError(problem + ".") }
        if chunkSize != nil, share == nil { throw ValidationError("-chunk-size goes with -share.") }
        if let chunkSize, !(1...1_048_576).contains(chunkSize) { throw ValidationError("-chunk-size must be from 1 to 1048576 KiB, not \(chunkSize).") }
        if let chunks, !(1...ChunkIndex.maximum).contains(chunks) { throw ValidationError("-chunks must be from 1 to \(ChunkIndex.maximum), not \(chunks).") }
        if demo {
            let chunks = chunks ?? 64
            guard (1...100_000).contains(chunks) else { throw ValidationError("-chunks must be from 1 to 100000, not \(chunks).") }
            guard (1...50).contains(peers) else { throw ValidationError("-peers must be from 1 to 50, not \(peers).") }
        } else {
            guard folder != nil, transferPort != nil, name != nil else {
                throw ValidationError("-folder, -transfer_port and -name are required (or use -demo).")
            }
        }
        if let transferPort, !PeerAddress.isValidPort(transferPort) {
            throw ValidationError("-transfer_port \(transferPort) is not a TCP port; use a number from 1 to 65535.")
        }
        if torrent != nil, demo { throw ValidationError("-torrent and -demo cannot be used together.") }
        if torrent != nil, magnet != nil { throw ValidationError("-torrent and -magnet cannot be used together: give one.") }
        if torrent != nil, transferPort == 0 { throw ValidationError("-transfer_port 0 is not a TCP port; use a number from 1 to 65535.") }
        _ = try trackers()
        if let advertise, !PeerAddress.isValidHost(advertise) {
            throw ValidationError("-advertise \"\(advertise)\" is not an address or host name.")
        }
        if let name, name.isEmpty || name.contains(",") || name.contains("\n") {
            throw ValidationError("-name must be non-empty, without commas or newlines.")
        }
        guard maxBadChunks >= 1 else { throw ValidationError("-max-bad-chunks must be at least 1.") }
        if let maxFetches, maxFetches < 1 { throw ValidationError("-max-fetches must be at least 1, not \(maxFetches).") }
        if let maxFetchesPerPeer, maxFetchesPerPeer < 1 {
            throw ValidationError("-max-fetches-per-peer must be at least 1, not \(maxFetchesPerPeer).")
        }
        for (flag, value) in [("-upload-limit", uploadLimit), ("-download-limit", downloadLimit)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1 KiB/s, not \(value).") }
        }
    }

    private func validateMakeTorrent() throws {
        guard !announce.isEmpty else { throw ValidationError("-make-torrent needs -announce URL (a tracker to name in the torrent).") }
        for url in announce where !["http://", "https://", "udp://"].contains(where: url.hasPrefix) {
            throw ValidationError("-announce \"\(url)\" is not an http://, https:// or udp:// tracker URL.")
        }
        guard output != nil else { throw ValidationError("-make-torrent needs -o OUT.torrent.") }
        if let pieceSize, !(16...16384).contains(pieceSize) || pieceSize & (pieceSize - 1) != 0 {
            throw ValidationError("-piece-size \(pieceSize) is not a power of two from 16 to 16384 (KiB).")
        }
    }

    /// The trackers `-tracker` names, in order.
    func trackers() throws -> [PeerAddress] {
        var addresses: [PeerAddress] = []
        for entry in tracker.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            // An IPv6 address must be bracketed: "::1:5100" could be an address without a port.
            guard let address = PeerAddress(parsing: entry), !address.host.contains(":") || entry.hasPrefix("[") else {
                let which = entry == tracker ? "" : " (in \"\(tracker)\")"
                throw ValidationError("-tracker \"\(entry)\"\(which) is not HOST:PORT (IPv6: [ADDRESS]:PORT) with a port from 1 to 65535.")
            }
            guard !addresses.contains(address) else { throw ValidationError("-tracker names \(address) twice.") }
            addresses.append(address)
        }
        return addresses
    }

    /// Whether to draw the UI: a terminal on stdout and no `-headless`.
    var showsInterface: Bool { !headless && isatty(STDOUT_FILENO) == 1 }

    func run() async throws {
        SignalTrap.ignoreBrokenPipes()
        MemoryReuse.keepFreedMemory()
        if demo {
            try await Demo(chunks: chunks ?? 64, peers: peers, startPaused: paused, showsInterface: showsInterface).run()
            return
        }
        if let torrent {
            try await TorrentRun(command: self, source: .file(torrent)).run()
            return
        }
        if let magnet {
            try await TorrentRun(command: self, source: .magnet(magnet)).run()
            return
        }
        if let makeTorrent {
            try await MakeTorrentRun(path: makeTorrent, announce: announce, pieceKiB: pieceSize, isPrivate: isPrivate, output: output!).run()
            return
        }
        try prepareFolder()
        let store = try ChunkStore.open(folder: folder!)
        let logFile = try LogFile()
        let logger = Logger(label: name!) { LineLogHandler.seed(name: $0, file: logFile) }
        var configuration = Swarm.Configuration(
            name: name!,
            trackers: try trackers(),
            advertiseHost: advertise,
            transferPort: transferPort!
        )
        configuration.exitWhenComplete = exitWhenComplete
        configuration.maxBadChunks = maxBadChunks
        configuration.fetchWindow = FetchWindow(
            total: maxFetches ?? 8,
            perPeer: maxFetchesPerPeer ?? 8,
            adapts: maxFetches == nil && maxFetchesPerPeer == nil
        )
        configuration.startPaused = paused
        configuration.uploadLimit = uploadLimit.map { TokenBucket(bytesPerSecond: Double($0) * 1024) }
        configuration.fetcher.downloadLimit = downloadLimit.map { TokenBucket(bytesPerSecond: Double($0) * 1024) }
        let swarm = Swarm(configuration: configuration, store: store, logger: logger)
        var session = ClientSession(swarm: swarm, name: name!, tracker: tracker, showsInterface: showsInterface)
        if let assemble, let folder {
            session.onComplete = {
                do {
                    // The list names the last chunks only once it is written.
                    try await store.flush()
                    return .assembled(path: assemble, bytes: try SharedFile.assemble(folder: folder, into: assemble))
                } catch {
                    return .problem("cannot assemble \(assemble): \(error)")
                }
            }
        }
        try await session.run()
    }
}
