import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turning a file into a chunk folder (`client -share`), and a folder ready to receive one
/// (`client -chunks N`), so that two machines need no hand-made folders.
public enum SharedFile {
    /// The chunk size when none is given: 4 MiB.
    public static let defaultChunkSize = 4 << 20

    /// What was made or found.
    public struct Shared: Equatable, Sendable {
        public let chunks: Int
        public let bytes: Int64
        /// Whether the folder already held this file's chunks (a second `-share` of it).
        public let alreadyThere: Bool
    }

    /// Splits `file` into `folder/chunk_1…N` of `chunkSize` bytes (the last shorter; an empty
    /// file is one empty chunk) and lists them all in `local_chunks.txt`, streaming through a
    /// 1 MiB buffer. `folder` is made if missing and must be empty; a folder whose list already
    /// names this file's chunk count and sizes is taken as it is. Each chunk is written to a
    /// temporary file and renamed, the list last, so a crash never leaves a list naming a
    /// partial chunk. Throws naming the problem, having changed nothing it was not asked to.
    public static func share(file: String, into folder: String, chunkSize: Int) throws(SharedFileError) -> Shared {
        precondition(chunkSize > 0, "chunks have a size")
        var info = stat()
        guard stat(file, &info) == 0 else { throw .unreadable(file, FileSystem.lastError) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(file, "not a regular file") }
        let bytes = Int64(info.st_size)
        let chunks = max(1, Int((bytes + Int64(chunkSize) - 1) / Int64(chunkSize)))
        let input = open(file, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .unreadable(file, FileSystem.lastError) }
        defer { close(input) }
        if let existing = try existingList(in: folder) {
            let sizes = (1...chunks).map { min(Int64(chunkSize), bytes - Int64($0 - 1) * Int64(chunkSize)) }
            let matches = existing.total == chunks && existing.isComplete
                && (1...chunks).allSatisfy { index in
                    var chunk = stat()
                    return existing.files[ChunkIndex(index)].map { stat(folder + "/" + $0, &chunk) == 0 && Int64(chunk.st_size) == max(0, sizes[index - 1]) } ?? false
                }
            guard matches else { throw .folderHoldsOtherChunks(folder, listed: existing.total) }
            return Shared(chunks: chunks, bytes: bytes, alreadyThere: true)
        }
        try makeEmptyFolder(folder)
        var list = ChunkList(total: chunks)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for index in 1...chunks {
            let name = "chunk_\(index)"
            let temporary = folder + "/." + name + ".share-\(getpid())"
            let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard output >= 0 else { throw .cannotWrite(temporary, FileSystem.lastError) }
            let length = Int(min(Int64(chunkSize), bytes - Int64(index - 1) * Int64(chunkSize)))
            do throws(SharedFileError) {
                let copied = try copy(from: input, path: file, to: output, path: temporary, upTo: length, buffer: &buffer)
                guard copied == length else { throw .unreadable(file, "it got shorter while being read") }
                guard fsync(output) == 0, rename(temporary, folder + "/" + name) == 0 else { throw .cannotWrite(folder + "/" + name, FileSystem.lastError) }
            } catch {
                close(output)
                unlink(temporary)
                throw error
            }
            close(output)
            list.add(ChunkIndex(index), fileName: name)
        }
        do throws(FileSystemError) { try FileSystem.replaceAtomically(folder + "/" + ChunkList.fileName, with: Array(list.text.utf8)) } catch {
            throw .cannotWrite(folder + "/" + ChunkList.fileName, error.reason)
        }
        return Shared(chunks: chunks, bytes: bytes, alreadyThere: false)
    }

    /// Makes `folder` (and its parents) with a list of `total` chunks and none held, so that a
    /// client fetches them all; a folder whose list already has that total is left as it is.
    /// Returns whether it made the list.
    @discardableResult
    public static func prepare(folder: String, total: Int) throws(SharedFileError) -> Bool {
        if let existing = try existingList(in: folder) {
            guard existing.total == total else { throw .otherTotal(folder, listed: existing.total, asked: total) }
            return false
        }
        try makeEmptyFolder(folder)
        do throws(FileSystemError) { try FileSystem.replaceAtomically(folder + "/" + ChunkList.fileName, with: Array(ChunkList(total: total).text.utf8)) } catch {
            throw .cannotWrite(folder + "/" + ChunkList.fileName, error.reason)
        }
        return true
    }

    /// Writes the chunks of `folder`, which must all be held, in order to `output`: through a
    /// temporary file beside it, synced and renamed into place, so `output` is never partial.
    /// Returns the bytes written.
    public static func assemble(folder: String, into output: String) throws(SharedFileError) -> Int64 {
        guard let list = try existingList(in: folder), list.isComplete else { throw .incomplete(folder) }
        let temporary = output + ".assembling-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotWrite(temporary, FileSystem.lastError) }
        var written: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        do throws(SharedFileError) {
            for index in list.allIndexes {
                let path = folder + "/" + list.files[index]!
                let input = open(path, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { throw .unreadable(path, FileSystem.lastError) }
                defer { close(input) }
                written += Int64(try copy(from: input, path: path, to: descriptor, path: temporary, upTo: .max, buffer: &buffer))
            }
            guard fsync(descriptor) == 0, rename(temporary, output) == 0 else { throw .cannotWrite(output, FileSystem.lastError) }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        return written
    }

    /// Copies from `input` to `output` until `limit` bytes or the end of `input`, through
    /// `buffer`; the bytes copied.
    private static func copy(
        from input: Int32, path inputPath: String, to output: Int32, path outputPath: String, upTo limit: Int, buffer: inout [UInt8]
    ) throws(SharedFileError) -> Int {
        var copied = 0
        while copied < limit {
            let count = read(input, &buffer, min(buffer.count, limit - copied))
            guard count >= 0 else { throw .unreadable(inputPath, FileSystem.lastError) }
            guard count > 0 else { break }
            let failure: FileSystemError? = buffer.withUnsafeBytes { raw in
                do throws(FileSystemError) { try FileSystem.writeAll(output, UnsafeRawBufferPointer(rebasing: raw[0..<count]), path: outputPath) } catch {
                    return error
                }
                return nil
            }
            if let failure { throw .cannotWrite(outputPath, failure.reason) }
            copied += count
        }
        return copied
    }

    /// Whether `output` can be assembled later: its folder exists and it is not a folder; the
    /// problem otherwise.
    public static func problemAssembling(into output: String) -> String? {
        let parent = output.contains("/") ? String(output[..<output.lastIndex(of: "/")!]) : "."
        var info = stat()
        guard stat(parent.isEmpty ? "/" : parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            return "-assemble \(output): its folder \(parent.isEmpty ? "/" : parent) does not exist"
        }
        if stat(output, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { return "-assemble \(output) is a folder; name a file" }
        return nil
    }

    /// The folder's list, if it has one.
    private static func existingList(in folder: String) throws(SharedFileError) -> ChunkList? {
        let path = folder + "/" + ChunkList.fileName
        guard access(path, F_OK) == 0 else { return nil }
        do {
            return try ChunkList(parsing: try FileSystem.readText(path), file: path)
        } catch {
            throw .folderHoldsOtherChunks(folder, listed: nil)
        }
    }

    /// Makes `folder` and its parents; refuses one that exists and is not empty.
    private static func makeEmptyFolder(_ folder: String) throws(SharedFileError) {
        do throws(FileSystemError) { try FileSystem.makeDirectories(folder) } catch { throw .cannotWrite(error.path, error.reason) }
        guard let directory = opendir(folder) else { throw .cannotWrite(folder, FileSystem.lastError) }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name == "." || name == ".." else { throw .folderNotEmpty(folder) }
        }
    }
}

/// Why a file cannot be shared, or a folder prepared.
public enum SharedFileError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case cannotWrite(String, String)
    case folderNotEmpty(String)
    case folderHoldsOtherChunks(String, listed: Int?)
    case otherTotal(String, listed: Int, asked: Int)
    case incomplete(String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "cannot read \(file): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        case .folderNotEmpty(let folder): "\(folder) is not empty and has no \(ChunkList.fileName): give a new or empty folder"
        case .folderHoldsOtherChunks(let folder, let listed):
            "\(folder) already holds other chunks\(listed.map { " (\($0) listed)" } ?? ""): give a new or empty folder"
        case .otherTotal(let folder, let listed, let asked):
            "\(folder) lists \(listed) chunks, not \(asked): -chunks must match the file the folder is for"
        case .incomplete(let folder): "\(folder) does not hold every chunk yet"
        }
    }
}
