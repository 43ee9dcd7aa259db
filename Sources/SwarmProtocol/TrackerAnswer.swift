/// What a tracker answers to `WHERE_CHUNK`.
///
/// ```swift
/// try TrackerAnswer(parsing: "CHUNK_LOCATION_UNKNOWN,7")  // .chunkLocationUnknown(7)
/// ```
public enum TrackerAnswer: WireMessage, Hashable {
    /// `GET_CHUNK_FROM,<i>,<sha1>,<host1>,<port1>,…`: these peers hold chunk `i` with this digest.
    case getChunkFrom(ChunkIndex, SHA1Digest, holders: [PeerAddress])
    /// `CHUNK_LOCATION_UNKNOWN,<i>`: nobody is listed for chunk `i` yet. Not final: ask again later.
    case chunkLocationUnknown(ChunkIndex)

    public static let verbs: [WireVerb] = [.getChunkFrom, .chunkLocationUnknown]

    public init(parsing frame: String) throws(WireError) {
        let message = try WireFields(frame, accepted: Self.verbs)
        switch message.verb {
        case .getChunkFrom:
            guard message.fields.count >= 4, message.fields.count % 2 == 0 else {
                throw message.malformed("expected an index, a SHA-1 and host,port pairs")
            }
            var holders: [PeerAddress] = []
            for position in stride(from: 2, to: message.fields.count, by: 2) {
                holders.append(try message.address(hostAt: position))
            }
            self = .getChunkFrom(try message.index(at: 0), try message.digest(at: 1), holders: holders)
        default:
            try message.expect(count: 1)
            self = .chunkLocationUnknown(try message.index(at: 0))
        }
    }

    /// The chunk this answer is about, to match it with its question.
    public var index: ChunkIndex {
        switch self {
        case .getChunkFrom(let index, _, _), .chunkLocationUnknown(let index): return index
        }
    }

    public var wireText: String {
        switch self {
        case .getChunkFrom(let index, let digest, let holders):
            let pairs = holders.map { "\($0.host),\($0.port)" }.joined(separator: ",")
            return "GET_CHUNK_FROM,\(index),\(digest),\(pairs)"
        case .chunkLocationUnknown(let index):
            return "CHUNK_LOCATION_UNKNOWN,\(index)"
        }
    }
}
