import Crypto
import Logging
import NIOCore
import SwarmCore
import SwarmProtocol
import TorrentProtocol

/// Gets a torrent's info dictionary from its peers, for a magnet link (BEP 9 over BEP 10): asks
/// the link's trackers for peers, and each peer in turn for the metadata, 16 KiB at a time; keeps
/// it only if its SHA-1 is the link's info-hash.
public struct MetadataFetch: Sendable {
    public let link: MagnetLink
    public let peerID: [UInt8]
    /// The port we will listen on, for the announces.
    public let port: Int
    /// How long one peer may take to hand the metadata over.
    public var peerTimeout: Duration = .seconds(20)

    public init(link: MagnetLink, peerID: [UInt8], port: Int) {
        self.link = link
        self.peerID = peerID
        self.port = port
    }

    /// Our `ut_metadata` number in the extension handshake.
    static let metadataExtensionID: UInt8 = 1

    /// A torrent file's bytes: the info dictionary from a peer, the link's trackers around it.
    /// `say` hears what went wrong on the way (a tracker down, a peer that lied).
    public func run(say: @escaping @Sendable (String) -> Void) async throws -> [UInt8] {
        let udp = UDPTrackerClient()
        var tried: Set<PeerEndpoint> = []
        while !Task.isCancelled {
            var peers: [PeerEndpoint] = []
            for url in link.trackers where TorrentSession.isSupported(url) {
                let request = AnnounceRequest(infoHash: link.infoHash, peerID: peerID, port: port, uploaded: 0, downloaded: 0, left: 1, event: nil)
                do {
                    let answer = url.hasPrefix("udp://")
                        ? try await udp.announce(request, to: url) : try await TorrentSession.sendHTTP(request, to: url, timeout: .seconds(15))
                    peers += answer.peers
                } catch {
                    say("tracker \(url): \(error is AnnounceError ? "\(error)" : ConnectionErrorText.describe(error))")
                }
            }
            for peer in peers where peer.port != port && tried.insert(peer).inserted {
                do {
                    return try await torrent(withInfo: fetch(from: peer))
                } catch {
                    say("metadata from \(peer): \(error is CancellationError ? "gave up" : "\(error)")")
                }
            }
            if link.trackers.isEmpty { throw MetadataError.noTrackers }
            try await Task.sleep(for: .seconds(3))
            tried.removeAll()
        }
        throw CancellationError()
    }

    /// The link's trackers, then the info dictionary exactly as the peer sent it (its bytes are
    /// what the info-hash is over).
    func torrent(withInfo info: [UInt8]) -> [UInt8] {
        var bytes = Array("d".utf8)
        if let first = link.trackers.first { bytes += Bencode.text("announce").encoded() + Bencode.text(first).encoded() }
        if link.trackers.count > 1 {
            bytes += Bencode.text("announce-list").encoded() + Bencode.list(link.trackers.map { .list([.text($0)]) }).encoded()
        }
        bytes += Bencode.text("info").encoded() + info + Array("e".utf8)
        return bytes
    }

    /// The info dictionary from one peer, checked against the info-hash, within ``peerTimeout``.
    func fetch(from peer: PeerEndpoint) async throws -> [UInt8] {
        guard let address = PeerAddress(host: peer.host, port: peer.port) else { throw MetadataError.peerBroke("not an address") }
        let channel = try await PeerSockets.connect(to: address, maximumLength: 1 << 20)
        let (link, peerID, timeout) = (self.link, self.peerID, self.peerTimeout)
        return try await withThrowingTaskGroup(of: [UInt8].self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await Self.exchange(inbound: inbound, outbound: outbound, link: link, peerID: peerID)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MetadataError.peerBroke("no metadata within \(timeout.secondsText)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private static func exchange(
        inbound: NIOAsyncChannelInboundStream<PeerWireFrame>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, link: MagnetLink, peerID: [UInt8]
    ) async throws -> [UInt8] {
        var opening = ByteBuffer()
        Handshake(infoHash: link.infoHash, peerID: peerID).write(to: &opening)
        PeerMessage.extended(id: 0, payload: Bencode.sortedDictionary([
            Bencode.Entry("m", .sortedDictionary([Bencode.Entry("ut_metadata", .integer(Int64(metadataExtensionID)))])),
            Bencode.Entry("v", .text("Swarm 0.1.0")),
        ]).encoded()).write(to: &opening)
        try await outbound.write(opening)
        var frames = inbound.makeAsyncIterator()
        guard case .handshake(let theirs)? = try await frames.next(), theirs.infoHash == link.infoHash else {
            throw MetadataError.peerBroke("its handshake is for another torrent")
        }
        guard theirs.supportsExtensionProtocol else { throw MetadataError.peerBroke("it does not speak the extension protocol") }
        var size = 0
        var pieces: [Int: [UInt8]] = [:]
        while let frame = try await frames.next() {
            guard case .message(.extended(let id, let payload)) = frame else { continue }
            if id == 0 {
                guard let handshake = try? Bencode.decode(payload, requireSortedKeys: false), let theirID = handshake["m"]?["ut_metadata"]?.integer,
                    (1...255).contains(theirID)
                else { throw MetadataError.peerBroke("it does not serve metadata (no ut_metadata)") }
                guard let total = handshake["metadata_size"]?.integer, total > 0, total <= Int64(MetadataMessage.maximumSize) else {
                    throw MetadataError.peerBroke("it gives no usable metadata_size")
                }
                size = Int(total)
                var requests = ByteBuffer()
                for piece in 0..<(size + MetadataMessage.pieceLength - 1) / MetadataMessage.pieceLength {
                    PeerMessage.extended(id: UInt8(theirID), payload: MetadataMessage.request(piece: piece).encoded()).write(to: &requests)
                }
                try await outbound.write(requests)
            } else if id == metadataExtensionID, size > 0 {
                switch MetadataMessage(payload: payload) {
                case .data(let piece, let total, let bytes)?:
                    let count = (size + MetadataMessage.pieceLength - 1) / MetadataMessage.pieceLength
                    let expected = piece == count - 1 ? size - piece * MetadataMessage.pieceLength : MetadataMessage.pieceLength
                    guard total == size, piece < count, bytes.count == expected else { throw MetadataError.peerBroke("a metadata piece of the wrong size") }
                    pieces[piece] = bytes
                    if pieces.count == count {
                        let info = (0..<count).flatMap { pieces[$0]! }
                        guard Array(Insecure.SHA1.hash(data: info)) == link.infoHash.bytes else {
                            throw MetadataError.peerBroke("its info dictionary's SHA-1 is not the magnet link's info-hash: refused")
                        }
                        return info
                    }
                case .reject?:
                    throw MetadataError.peerBroke("it refused to send the metadata")
                default:
                    continue
                }
            }
        }
        throw MetadataError.peerBroke("it closed the connection")
    }
}

/// Why metadata could not be had.
public enum MetadataError: Error, Equatable, CustomStringConvertible {
    case noTrackers
    case peerBroke(String)

    public var description: String {
        switch self {
        case .noTrackers: return "the magnet link names no tracker (tr=), and without DHT there is nobody to ask for its metadata"
        case .peerBroke(let reason): return reason
        }
    }
}
