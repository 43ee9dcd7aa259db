/// What a client sends its tracker.
///
/// ```swift
/// try TrackerRequest(parsing: "WHERE_CHUNK,3")   // .whereChunk(3)
/// TrackerRequest.whereChunk(ChunkIndex(3)).wireText  // "WHERE_CHUNK,3"
/// ```
public enum TrackerRequest: WireMessage, Hashable {
    /// `LOCAL_CHUNKS,<i>,<sha1>,<host>,<port>`: the sender holds chunk `i`, with this digest, served at `holder`.
    case localChunks(ChunkIndex, SHA1Digest, holder: PeerAddress)
    /// `WHERE_CHUNK,<i>`: who holds chunk `i`?
    case whereChunk(ChunkIndex)

    public static let verbs: [WireVerb] = [.localChunks, .whereChunk]

    public init(parsing frame: String) throws(WireError) {
        let message = try WireFields(frame, accepted: Self.verbs)
        switch message.verb {
        case .localChunks:
            try message.expect(count: 4)
            self = .localChunks(try message.index(at: 0), try message.digest(at: 1), holder: try message.address(hostAt: 2))
        default:
            try message.expect(count: 1)
            self = .whereChunk(try message.index(at: 0))
        }
    }

    public var wireText: String {
        switch self {
        case .localChunks(let index, let digest, let holder):
            return "LOCAL_CHUNKS,\(index),\(digest),\(holder.host),\(holder.port)"
        case .whereChunk(let index):
            return "WHERE_CHUNK,\(index)"
        }
    }
}
