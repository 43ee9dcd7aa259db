import Crypto
import NIOCore
import NIOPosix
import Synchronization
import SwarmCore
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Makes a v1 torrent of a file or a folder (`client -make-torrent`): the files in a stable
/// order (by path, byte by byte), the `.swarm` state folder and symlinks left out, the pieces
/// hashed on every core at once.
public struct TorrentMaker: Sendable {
    /// What is shared: a file, or a folder walked whole.
    public var path: String
    /// Tracker URLs, each its own tier.
    public var announce: [String]
    /// Bytes per piece; `nil` chooses from the total size (``pieceLength(for:)``).
    public var pieceLength: Int?
    /// BEP 27: peers only from the trackers.
    public var isPrivate = false

    public init(path: String, announce: [String], pieceLength: Int? = nil) {
        self.path = path
        self.announce = announce
        self.pieceLength = pieceLength
    }

    /// A piece length for `total` bytes, as mktorrent and libtorrent choose: the smallest power
    /// of two from 16 KiB to 16 MiB that keeps the torrent to about 2,000 pieces or fewer.
    public static func pieceLength(for total: Int64) -> Int {
        var length = 16 << 10
        while length < 16 << 20, total / Int64(length) > 2000 { length <<= 1 }
        return length
    }

    /// A file to hash: where it is, and its path in the torrent.
    struct Entry {
        var location: String
        var path: [String]
        var length: Int64
    }

    /// The files under `path`, in torrent order; refuses what cannot be shared.
    func entries() throws(MakeTorrentError) -> (name: String, files: [Entry], isFolder: Bool) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path, FileSystem.lastError) }
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let name = String(trimmed.split(separator: "/").last ?? Substring(trimmed))
        guard !name.isEmpty, name != ".", name != ".." else { throw .badName(path) }
        if info.st_mode & S_IFMT == S_IFREG {
            return (name, [Entry(location: path, path: [name], length: Int64(info.st_size))], false)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .notAFileOrFolder(path) }
        var files: [Entry] = []
        try walk(trimmed, relative: [], into: &files)
        guard !files.isEmpty else { throw .empty(path) }
        files.sort { $0.path.lexicographicallyPrecedes($1.path) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
        return (name, files, true)
    }

    private func walk(_ directory: String, relative: [String], into files: inout [Entry]) throws(MakeTorrentError) {
        guard let handle = opendir(directory) else { throw .unreadable(directory, FileSystem.lastError) }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != "..", !(relative.isEmpty && name == ".swarm") else { continue }
            let location = directory + "/" + name
            var info = stat()
            guard lstat(location, &info) == 0 else { throw .unreadable(location, FileSystem.lastError) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: try walk(location, relative: relative + [name], into: &files)
            case S_IFREG: files.append(Entry(location: location, path: relative + [name], length: Int64(info.st_size)))
            default: continue  // Symlinks, sockets, devices: not content.
            }
        }
    }

    /// Hashes the content and returns the torrent's bytes; `progress` hears the bytes hashed so far.
    public func make(threadPool: NIOThreadPool, progress: @escaping @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws -> [UInt8] {
        let (name, files, isFolder) = try entries()
        let total = files.reduce(Int64(0)) { $0 + $1.length }
        guard total > 0 else { throw MakeTorrentError.empty(path) }
        let length = pieceLength ?? Self.pieceLength(for: total)
        let pieceCount = Int((total + Int64(length) - 1) / Int64(length))
        let workers = max(1, System.coreCount)
        let done = Counter()
        let hashes = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for worker in 0..<workers {
                let pieces = stride(from: worker, to: pieceCount, by: workers)
                group.addTask {
                    try await threadPool.runIfActive {
                        var digests: [UInt8] = []
                        for piece in pieces {
                            let digest = try Self.hash(piece: piece, pieceLength: length, total: total, files: files)
                            digests += digest
                            progress(done.add(Int64(min(Int64(length), total - Int64(piece) * Int64(length)))), total)
                        }
                        return (worker, digests)
                    }
                }
            }
            var byWorker: [Int: [UInt8]] = [:]
            for try await (worker, digests) in group { byWorker[worker] = digests }
            var ordered = [UInt8](repeating: 0, count: pieceCount * 20)
            for (worker, digests) in byWorker {
                for (position, piece) in stride(from: worker, to: pieceCount, by: workers).enumerated() {
                    ordered[piece * 20..<piece * 20 + 20] = digests[position * 20..<position * 20 + 20]
                }
            }
            return ordered
        }
        var info: [Bencode.Entry] = [
            Bencode.Entry("name", .text(name)),
            Bencode.Entry("piece length", .integer(Int64(length))),
            Bencode.Entry("pieces", .bytes(hashes)),
        ]
        if isFolder {
            info.append(Bencode.Entry("files", .list(files.map { file in
                .sortedDictionary([Bencode.Entry("length", .integer(file.length)), Bencode.Entry("path", .list(file.path.map(Bencode.text)))])
            })))
        } else {
            info.append(Bencode.Entry("length", .integer(total)))
        }
        if isPrivate { info.append(Bencode.Entry("private", .integer(1))) }
        var root: [Bencode.Entry] = [
            Bencode.Entry("info", .sortedDictionary(info)),
            Bencode.Entry("created by", .text("Swarm 0.1.0")),
            Bencode.Entry("creation date", .integer(Int64(time(nil)))),
        ]
        if let first = announce.first { root.append(Bencode.Entry("announce", .text(first))) }
        if announce.count > 1 { root.append(Bencode.Entry("announce-list", .list(announce.map { .list([.text($0)]) }))) }
        return Bencode.sortedDictionary(root).encoded()
    }

    /// The SHA-1 of one piece of the files taken as one stream.
    private static func hash(piece: Int, pieceLength: Int, total: Int64, files: [Entry]) throws -> [UInt8] {
        var hasher = Insecure.SHA1()
        var start = Int64(piece) * Int64(pieceLength)
        var remaining = min(Int64(pieceLength), total - start)
        var offset: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: min(pieceLength, 1 << 20))
        for file in files {
            defer { offset += file.length }
            guard remaining > 0, start < offset + file.length, file.length > 0 else { continue }
            let descriptor = open(file.location, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw MakeTorrentError.unreadable(file.location, FileSystem.lastError) }
            defer { close(descriptor) }
            var position = start - offset
            while remaining > 0, position < file.length {
                let want = Int(min(Int64(buffer.count), remaining, file.length - position))
                let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, want, off_t(position)) }
                guard read > 0 else { throw MakeTorrentError.unreadable(file.location, read == 0 ? "it got shorter while being read" : FileSystem.lastError) }
                buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
                position += Int64(read)
                remaining -= Int64(read)
                start += Int64(read)
            }
        }
        return Array(hasher.finalize())
    }
}

/// A thread-safe running total.
private final class Counter: Sendable {
    private let value = Mutex<Int64>(0)
    func add(_ amount: Int64) -> Int64 { value.withLock { $0 += amount; return $0 } }
}

/// Why a torrent could not be made.
public enum MakeTorrentError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case notAFileOrFolder(String)
    case empty(String)
    case badName(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        case .notAFileOrFolder(let path): return "\(path) is neither a file nor a folder"
        case .empty(let path): return "\(path) holds no content to share (0 bytes)"
        case .badName(let path): return "\(path) has no name to give the torrent"
        }
    }
}
