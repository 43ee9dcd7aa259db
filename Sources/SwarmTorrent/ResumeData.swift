import SwarmCore
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Which pieces of a torrent are known good, kept beside the content in
/// `DIR/.swarm/<infohash>.resume` so a restart re-checks only the others.
///
/// Written whole to a temporary file and renamed into place, so a crash leaves the previous
/// record or the new one. A piece is added only after its SHA-1 matched; the record is trusted
/// only while every file still has the size it had when it was written, since Swarm writes
/// only into pieces it does not hold.
public struct ResumeData: Sendable, Equatable {
    /// The verified pieces.
    public var pieces: Bitfield
    /// Each file's size when written.
    public var fileSizes: [Int64]

    public init(pieces: Bitfield, fileSizes: [Int64]) {
        self.pieces = pieces
        self.fileSizes = fileSizes
    }

    /// `DIR/.swarm/<infohash>.resume`.
    public static func path(for infoHash: InfoHash, in folder: String) -> String {
        "\(folder)/.swarm/\(infoHash.hex).resume"
    }

    /// The bencoded record.
    public func encoded(infoHash: InfoHash) -> [UInt8] {
        Bencode.sortedDictionary([
            Bencode.Entry("info-hash", .bytes(infoHash.bytes)),
            Bencode.Entry("pieces", .bytes(pieces.bytes)),
            Bencode.Entry("file sizes", .list(fileSizes.map { .integer($0) })),
        ]).encoded()
    }

    /// Reads a record for `infoHash` with `pieceCount` pieces; `nil` when it is for another
    /// torrent, of another shape, or unreadable (the pieces are then checked on disk).
    public init?(bytes: [UInt8], infoHash: InfoHash, pieceCount: Int) {
        guard let value = try? Bencode.decode(bytes), value["info-hash"]?.bytes == infoHash.bytes,
            let bits = value["pieces"]?.bytes, let pieces = try? Bitfield(bytes: bits, count: pieceCount),
            let sizes = value["file sizes"]?.list?.compactMap(\.integer)
        else { return nil }
        self.init(pieces: pieces, fileSizes: sizes)
    }

    /// Makes `DIR/.swarm`, where a folder's torrent state (resume data, a magnet's metadata)
    /// is kept, when it is missing.
    static func makeStateFolder(in folder: String) throws(FileSystemError) {
        try FileSystem.makeDirectories("\(folder)/.swarm")
    }

    /// Writes the record atomically, creating `DIR/.swarm` when needed.
    public func save(infoHash: InfoHash, in folder: String) throws(FileSystemError) {
        try Self.makeStateFolder(in: folder)
        try FileSystem.replaceAtomically(Self.path(for: infoHash, in: folder), with: encoded(infoHash: infoHash))
    }
}
