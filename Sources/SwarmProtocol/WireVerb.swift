/// The first field of every message on the wire.
///
/// Framing uses the whole set: where a known verb starts in the middle of buffered bytes, the
/// message before it has ended (seed-era peers glue messages together without terminators).
public enum WireVerb: String, CaseIterable, Sendable {
    /// Client → tracker: I hold this chunk.
    case localChunks = "LOCAL_CHUNKS"
    /// Client → tracker: who holds this chunk?
    case whereChunk = "WHERE_CHUNK"
    /// Tracker → client: these peers hold it.
    case getChunkFrom = "GET_CHUNK_FROM"
    /// Tracker → client: nobody (or not enough peers) registered it.
    case chunkLocationUnknown = "CHUNK_LOCATION_UNKNOWN"
    /// Peer → peer: send me this chunk's bytes.
    case requestChunk = "REQUEST_CHUNK"

    /// The verb's bytes, for searching buffers.
    var utf8Bytes: [UInt8] { Array(rawValue.utf8) }
}
