import Crypto
import NIOCore
import NIOPosix
import SwarmCore
import Synchronization
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A torrent's content on disk, laid out as libtorrent, transmission and aria2 lay it out with
/// the folder as their save path: `DIR/<name>` for one file, `DIR/<name>/<path…>` for several.
///
/// Every path is proven to stay inside the folder before anything is created: the names were
/// checked by ``Metainfo`` (no absolute path, `..`, `.` or empty component), and here no part
/// that already exists may be a symlink leading out. Files are created at their full length
/// (sparse) and never shortened; pieces are written in place once checked. All disk work runs on a thread
/// pool, never on an event loop. A file is created (at its full length, sparse) only when the
/// first block of it is written, so a file the user skipped is not made at all where no wanted
/// piece reaches into it.
public final class TorrentStorage: Sendable {
    /// The torrent.
    public let metainfo: Metainfo
    /// The folder given, as the user named it.
    public let folder: String
    /// Each file's path, in torrent order.
    public let paths: [String]
    /// Each file's size before it was opened (0 for a file created now): only pieces within
    /// these bytes can hold content already, so only they are checked at start.
    public let sizesFound: [Int64]
    /// Each file's descriptor, once it is open (made on the first write for a new file).
    private let descriptors: Mutex<[Int32?]>
    private let threadPool: NIOThreadPool

    private init(metainfo: Metainfo, folder: String, paths: [String], sizesFound: [Int64], descriptors: [Int32?], threadPool: NIOThreadPool) {
        self.metainfo = metainfo
        self.folder = folder
        self.paths = paths
        self.sizesFound = sizesFound
        self.descriptors = Mutex(descriptors)
        self.threadPool = threadPool
    }

    /// Where `metainfo`'s files go under `folder`, each checked to stay inside it; nothing is
    /// created. Refuses a folder that does not exist.
    public static func plan(_ metainfo: Metainfo, in folder: String) throws(StorageError) -> [String] {
        guard let root = FileSystem.realPath(folder) else { throw .folderMissing(folder) }
        let base = metainfo.isMultiFile ? [metainfo.name] : []
        var paths: [String] = []
        for file in metainfo.files {
            let components = base + file.path
            var current = root
            for (position, component) in components.enumerated() {
                current += "/" + component
                var info = stat()
                guard lstat(current, &info) == 0 else { break }  // Not there yet: created inside.
                let isLast = position == components.count - 1
                if info.st_mode & S_IFMT == S_IFLNK {
                    guard let target = FileSystem.realPath(current), target == root || target.hasPrefix(root + "/") else {
                        throw .leavesFolder(current)
                    }
                }
                var followed = stat()
                guard stat(current, &followed) == 0 else { throw .leavesFolder(current) }
                if !isLast, followed.st_mode & S_IFMT != S_IFDIR { throw .notAFolder(current) }
                if isLast, followed.st_mode & S_IFMT != S_IFREG { throw .notAFile(current) }
            }
            paths.append(folder + "/" + components.joined(separator: "/"))
        }
        return paths
    }

    /// Opens the files of `metainfo` under `folder` that are already there (a shorter one is
    /// extended to its full length); the others are made when first written.
    public static func open(_ metainfo: Metainfo, in folder: String, threadPool: NIOThreadPool) async throws -> TorrentStorage {
        let paths = try plan(metainfo, in: folder)
        let (descriptors, sizesFound) = try await threadPool.runIfActive { () throws -> ([Int32?], [Int64]) in
            var opened: [Int32?] = []
            var sizes: [Int64] = []
            do throws(StorageError) {
                for (path, file) in zip(paths, metainfo.files) {
                    let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC)
                    guard descriptor >= 0 else {
                        guard errno == ENOENT else { throw StorageError.system(FileSystemError(path: path, reason: FileSystem.lastError)) }
                        opened.append(nil)
                        sizes.append(0)
                        continue
                    }
                    opened.append(descriptor)
                    var info = stat()
                    let size = fstat(descriptor, &info) == 0 ? Int64(info.st_size) : 0
                    sizes.append(size)
                    if size < file.length, ftruncate(descriptor, off_t(file.length)) != 0 {
                        throw StorageError.system(FileSystemError(path: path, reason: FileSystem.lastError))
                    }
                }
            } catch {
                for descriptor in opened.compactMap({ $0 }) { Glibc.close(descriptor) }
                throw error
            }
            return (opened, sizes)
        }
        return TorrentStorage(metainfo: metainfo, folder: folder, paths: paths, sizesFound: sizesFound, descriptors: descriptors, threadPool: threadPool)
    }

    private static func makeParents(of path: String, below folder: String) throws(StorageError) {
        let relative = path.dropFirst(folder.count + 1).split(separator: "/").dropLast()
        var current = folder
        for component in relative {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw .system(FileSystemError(path: current, reason: FileSystem.lastError))
            }
        }
    }

    /// Closes the files.
    public func close() {
        descriptors.withLock { open in
            for descriptor in open.compactMap({ $0 }) { Glibc.close(descriptor) }
            open = open.map { _ in nil }
        }
    }

    /// File `file`'s descriptor; made (with its folders, at its full length) when `create` and
    /// it is not there yet. Called on the thread pool.
    private func descriptor(_ file: Int, create: Bool) throws(StorageError) -> Int32? {
        try descriptors.withLock { open throws(StorageError) -> Int32? in
            if let descriptor = open[file] { return descriptor }
            guard create else { return nil }
            let path = paths[file]
            try Self.makeParents(of: path, below: folder)
            let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw .system(FileSystemError(path: path, reason: FileSystem.lastError)) }
            guard ftruncate(descriptor, off_t(metainfo.files[file].length)) == 0 else {
                Glibc.close(descriptor)
                throw .system(FileSystemError(path: path, reason: FileSystem.lastError))
            }
            open[file] = descriptor
            return descriptor
        }
    }

    /// The file pieces of bytes `begin..<begin+length` of piece `piece`: (file, offset in it, count).
    func segments(piece: Int, begin: Int, length: Int) -> [(file: Int, offset: Int64, count: Int)] {
        var start = Int64(piece) * Int64(metainfo.pieceLength) + Int64(begin)
        var remaining = Int64(length)
        let files = metainfo.files
        var low = 0
        var high = files.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if files[middle].offset <= start { low = middle } else { high = middle - 1 }
        }
        var segments: [(Int, Int64, Int)] = []
        var file = low
        while remaining > 0, file < files.count {
            let inFile = start - files[file].offset
            let count = min(remaining, files[file].length - inFile)
            if count > 0 {
                segments.append((file, inFile, Int(count)))
                remaining -= count
                start += count
            }
            file += 1
        }
        return segments
    }

    /// Reads a block.
    public func read(_ block: BlockRequest) async throws -> ByteBuffer {
        let segments = segments(piece: block.piece, begin: block.begin, length: block.length)
        let paths = self.paths
        return try await threadPool.runIfActive { () throws -> ByteBuffer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(block.length)
            for (file, offset, count) in segments {
                guard let descriptor = try self.descriptor(file, create: false) else {
                    throw StorageError.system(FileSystemError(path: paths[file], reason: "not made yet"))
                }
                let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                    pread(descriptor, raw.baseAddress, count, off_t(offset))
                }
                guard read == count else {
                    throw StorageError.system(FileSystemError(path: paths[file], reason: read < 0 ? FileSystem.lastError : "short read"))
                }
            }
            return buffer
        }
    }

    /// Checks a whole piece's bytes against its SHA-1 and, when they match, writes them in
    /// place; `false`, with nothing written, when they do not.
    public func commit(piece: Int, bytes: ByteBuffer) async throws -> Bool {
        let segments = segments(piece: piece, begin: 0, length: bytes.readableBytes)
        let (paths, expected) = (self.paths, metainfo.pieceHashes[piece])
        return try await threadPool.runIfActive { () throws -> Bool in
            guard bytes.withUnsafeReadableBytes({ Array(Insecure.SHA1.hash(data: $0)) }) == expected else { return false }
            var position = 0
            for (file, offset, count) in segments {
                let descriptor = try self.descriptor(file, create: true)!
                let written = bytes.withUnsafeReadableBytes { raw in
                    pwrite(descriptor, raw.baseAddress! + position, count, off_t(offset))
                }
                guard written == count else {
                    throw StorageError.system(FileSystemError(path: paths[file], reason: written < 0 ? FileSystem.lastError : "short write"))
                }
                position += count
            }
            return true
        }
    }

    /// Whether piece `piece` lies within the bytes the files had when opened.
    public func wasPresent(piece: Int) -> Bool {
        segments(piece: piece, begin: 0, length: metainfo.length(ofPiece: piece)).allSatisfy { $0.offset + Int64($0.count) <= sizesFound[$0.file] }
    }

    /// Whether piece `piece` on disk matches its SHA-1.
    public func verify(piece: Int) async throws -> Bool {
        let length = metainfo.length(ofPiece: piece)
        let segments = segments(piece: piece, begin: 0, length: length)
        let (paths, expected) = (self.paths, metainfo.pieceHashes[piece])
        return try await threadPool.runIfActive { () throws -> Bool in
            var hasher = Insecure.SHA1()
            var chunk = [UInt8](repeating: 0, count: min(length, 1 << 20))
            for (file, offset, count) in segments {
                guard let descriptor = try self.descriptor(file, create: false) else { return false }
                var done = 0
                while done < count {
                    let want = min(chunk.count, count - done)
                    let read = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, want, off_t(offset) + off_t(done)) }
                    guard read > 0 else {
                        if read == 0 { return false }  // Shorter than the torrent says: not this piece.
                        throw StorageError.system(FileSystemError(path: paths[file], reason: FileSystem.lastError))
                    }
                    chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
                    done += read
                }
            }
            return Array(hasher.finalize()) == expected
        }
    }

    /// The size of each file now (0 for one not made), for resume data.
    public func fileSizes() -> [Int64] {
        descriptors.withLock { open in
            open.map { descriptor in
                guard let descriptor else { return 0 }
                var info = stat()
                return fstat(descriptor, &info) == 0 ? Int64(info.st_size) : -1
            }
        }
    }
}

/// Why a torrent's content cannot be stored where asked.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    case folderMissing(String)
    case leavesFolder(String)
    case notAFolder(String)
    case notAFile(String)
    case system(FileSystemError)

    public var description: String {
        switch self {
        case .folderMissing(let folder): return "\(folder): no such folder"
        case .leavesFolder(let path): return "\(path) leads outside the folder through a symlink: refusing to write there"
        case .notAFolder(let path): return "\(path) is in the way: the torrent needs a folder there"
        case .notAFile(let path): return "\(path) is in the way: the torrent needs a regular file there"
        case .system(let error): return "\(error)"
        }
    }
}
