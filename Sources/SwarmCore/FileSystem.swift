import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, blocking POSIX file helpers. Callers run them on a thread pool, never on an event loop.
public enum FileSystem {
    /// What the system said about the last failed call.
    public static var lastError: String { String(cString: strerror(errno)) }

    /// Whether `path` exists and is a directory / a regular file (following symlinks).
    static func kind(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// The canonical absolute path, symlinks resolved; `nil` if it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The whole contents of a small file as text.
    static func readText(_ path: String) throws(FileSystemError) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// The whole contents of a small file.
    public static func readBytes(_ path: String) throws(FileSystemError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError(path: path, reason: lastError) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileSystemError(path: path, reason: lastError) }
            if count == 0 { break }
            bytes.append(contentsOf: block[0..<count])
        }
        return bytes
    }

    /// Writes `bytes` as the file at `path`, created or replaced, without waiting for the disk
    /// (no `fsync`, unlike Foundation's `Data.write(to:)`): for generated data a crash may lose,
    /// such as the demo's and the benchmark's folders, where an `fsync` per file made writing
    /// 100,000 small chunks take half a minute.
    public static func writeWithoutSync(_ bytes: [UInt8], to path: String) throws(FileSystemError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError(path: path, reason: lastError) }
        defer { close(descriptor) }
        let failure: FileSystemError? = bytes.withUnsafeBytes { raw in
            do throws(FileSystemError) { try writeAll(descriptor, raw, path: path) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Writes all of `bytes` to `descriptor`.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FileSystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw FileSystemError(path: path, reason: written == 0 ? "nothing was written" : lastError) }
            offset += written
        }
    }

    /// The most vectors one `writev(2)` takes on Linux (`IOV_MAX`, not imported into Swift).
    static let maximumVectors = 1024

    /// Writes every readable byte of `buffers`, in order, with as few `writev(2)` calls as it takes.
    static func writeAll(_ descriptor: Int32, _ buffers: [ByteBuffer], path: String) throws(FileSystemError) {
        var buffers = buffers.filter { $0.readableBytes > 0 }
        var first = 0
        while first < buffers.count {
            var vectors: [iovec] = []
            let batch = buffers[first..<min(buffers.count, first + maximumVectors)]
            let written = withVectors(batch, &vectors) { writev(descriptor, $0, Int32($0.count)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw FileSystemError(path: path, reason: written == 0 ? "nothing was written" : lastError) }
            var skipped = written
            while skipped > 0 {
                let taken = min(skipped, buffers[first].readableBytes)
                buffers[first].moveReaderIndex(forwardBy: taken)
                skipped -= taken
                if buffers[first].readableBytes == 0 { first += 1 }
            }
        }
    }

    /// Calls `body` with an `iovec` for each of `buffers`, valid only inside `body`.
    private static func withVectors<Result>(
        _ buffers: ArraySlice<ByteBuffer>,
        _ vectors: inout [iovec],
        _ body: ([iovec]) -> Result
    ) -> Result {
        guard let first = buffers.first else { return body(vectors) }
        return first.withUnsafeReadableBytes { raw in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
            return withVectors(buffers.dropFirst(), &vectors, body)
        }
    }

    /// How the temporary files of ``replaceAtomically(_:with:)`` for `name` begin.
    static func temporaryPrefix(for name: String) -> String { "\(name).tmp-" }

    /// Makes the directory `path` and any parents it lacks (as `mkdir -p`); one already there
    /// is fine.
    public static func makeDirectories(_ path: String) throws(FileSystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0, errno != EEXIST { throw FileSystemError(path: current, reason: lastError) }
        }
    }

    /// Replaces the file at `path` with `text` atomically: a temporary file beside it, then rename.
    static func replaceAtomically(_ path: String, with text: String) throws(FileSystemError) {
        try replaceAtomically(path, with: Array(text.utf8))
    }

    /// Replaces the file at `path` with `bytes` atomically: a temporary file beside it, synced,
    /// then renamed over it, so a crash leaves the old file or the new one, never a mix.
    public static func replaceAtomically(_ path: String, with bytes: [UInt8]) throws(FileSystemError) {
        let temporary = "\(temporaryPrefix(for: path))\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError(path: temporary, reason: lastError) }
        var isOpen = true
        defer { if isOpen { close(descriptor) } }
        do throws(FileSystemError) {
            let failure: FileSystemError? = bytes.withUnsafeBytes { raw in
                do throws(FileSystemError) { try writeAll(descriptor, raw, path: temporary) } catch { return error }
                return nil
            }
            if let failure { throw failure }
            guard fsync(descriptor) == 0 else { throw FileSystemError(path: temporary, reason: lastError) }
            close(descriptor)
            isOpen = false
            guard rename(temporary, path) == 0 else { throw FileSystemError(path: path, reason: lastError) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The names in a directory.
    static func entries(of directory: String) -> [String] {
        var names: [String] = []
        forEachEntry(of: directory) { name, _ in names.append(name) }
        return names
    }

    /// Calls `body` with the name and type (`DT_REG`, `DT_DIR`, …; `DT_UNKNOWN` where the file
    /// system does not say) of each entry of `directory` but `.` and `..`; none if it cannot be read.
    static func forEachEntry(of directory: String, _ body: (String, UInt8) -> Void) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { body(name, entry.pointee.d_type) }
        }
    }
}

/// A file operation failed.
public struct FileSystemError: Error, CustomStringConvertible, Equatable {
    /// A failure of `path`, for the reason given.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The file involved.
    public let path: String
    /// What the system said.
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}

extension NIOThreadPool {
    /// Runs `body` on the pool once `pending` (a write in progress) is done, even when the calling
    /// task is cancelled: the pool refuses work from a cancelled task unrun, so this runs in a
    /// task of its own. For work that must not be left half done: closing, renaming or removing
    /// a file, writing the list.
    public func runToCompletion<T: Sendable>(
        after pending: Task<Void, Error>? = nil,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await Task.detached {
            _ = try? await pending?.value
            return try await self.runIfActive(body)
        }.value
    }

    /// ``runToCompletion(after:_:)`` for clean-up that cannot fail.
    func runCleanUp(after pending: Task<Void, Error>? = nil, _ body: @escaping @Sendable () -> Void) async {
        _ = try? await runToCompletion(after: pending, body)
    }
}
