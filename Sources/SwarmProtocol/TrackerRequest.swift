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
        if let index = Self.plainWhereChunk(frame) {
            self = .whereChunk(index)
            return
        }
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

    private static let whereChunkPrefix = Array("WHERE_CHUNK,".utf8)

    /// The index of `WHERE_CHUNK,<digits>` with no padding, the form our own clients send
    /// thousands of times a second, read without splitting the text; `nil` for any other form.
    private static func plainWhereChunk(_ frame: String) -> ChunkIndex? {
        let bytes = frame.utf8
        guard bytes.starts(with: whereChunkPrefix) else { return nil }
        let digits = bytes.dropFirst(whereChunkPrefix.count)
        guard (1...10).contains(digits.count) else { return nil }
        var value = 0
        for byte in digits {
            guard byte.isASCIIDigit else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return (1...ChunkIndex.maximum).contains(value) ? ChunkIndex(value) : nil
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
