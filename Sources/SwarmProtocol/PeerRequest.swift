/// What a peer asks another peer: the only peer-to-peer message.
///
/// The answer is not a message: the chunk's raw bytes, then the server closes the connection.
public enum PeerRequest: WireMessage, Hashable {
    /// `REQUEST_CHUNK,<i>`: send me chunk `i`.
    case requestChunk(ChunkIndex)

    public static let verbs: [WireVerb] = [.requestChunk]

    public init(parsing frame: String) throws(WireError) {
        let message = try WireFields(frame, accepted: Self.verbs)
        try message.expect(count: 1)
        self = .requestChunk(try message.index(at: 0))
    }

    public var wireText: String {
        switch self {
        case .requestChunk(let index): return "REQUEST_CHUNK,\(index)"
        }
    }
}
