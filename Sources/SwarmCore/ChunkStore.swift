import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A chunk folder on disk: the chunks it holds, their digests, and the only way new chunks enter it.
///
/// Nothing half-done is ever visible: a download streams into a hidden temporary file in the
/// folder (``ChunkDownload``), and only a chunk whose SHA-1 matched is renamed to `chunk_<i>`; then
/// `local_chunks.txt` is rewritten to a temporary file and renamed over the old one. A crash at any
/// instant leaves a folder that lists only whole, correct chunks. Blocking file work runs on a
/// thread pool.
///
/// The list is rewritten at most ``listWriteDelay`` after a commit, so that commits close
/// together share one rewrite; ``flush()`` writes it at once, and ``close()`` a last time, for a
/// client that stops. Each rewrite costs an `fsync`, and on ext4 without a journal the inode it
/// frees is skipped, at a cost, by every file created in the folder for a while after (a tenth
/// of a swarm client's CPU when rewritten per chunk). A chunk is held and served from its commit
/// on; one committed in the last moments before a crash is not listed yet, so it is fetched
/// again and its file replaced.
///
/// ```swift
/// let store = try ChunkStore.open(folder: "client1_chunks")   // refuses a broken folder
/// let digests = try await store.hashHeldChunks()
/// ```
public actor ChunkStore {
    /// Prefix of the temporary files downloads stream into; leftovers are removed at start-up.
    static let partialPrefix = ".swarm-partial-"

    /// The folder, as given.
    public nonisolated let folder: String
    /// The number of chunks in the whole file.
    public nonisolated let total: Int
    private var list: ChunkList
    private let served: Mutex<[ChunkIndex: String]>
    /// Counts commits: the version of `list`.
    private var listVersion = 0
    /// The version last written; held while writing, so writes go one at a time.
    private let writtenVersion = NIOLockedValueBox(0)
    private let threadPool: NIOThreadPool
    /// How long `local_chunks.txt` may lag behind a commit.
    public nonisolated let listWriteDelay: Duration
    /// The rewrite waiting out ``listWriteDelay``, if any.
    private var scheduledWrite: Task<Void, Never>?
    private let failures: AsyncStream<FileSystemError>.Continuation
    /// Every rewrite of the list that failed in the background (disk full, folder read-only).
    /// The chunks stay held and served, and the rewrite is tried again ``listRetryDelay`` later.
    public nonisolated let listWriteFailures: AsyncStream<FileSystemError>

    /// The default ``listWriteDelay``: short enough that an interrupted download loses little,
    /// long enough that a fast swarm rewrites the list a few times a second, not once per chunk.
    public static let defaultListWriteDelay: Duration = .milliseconds(100)
    /// How long after a failed rewrite the list is tried again.
    static let listRetryDelay: Duration = .seconds(1)
    /// Set by ``close()``: no commit lands after the last write of the list.
    private var isClosed = false
    /// Keeps other clients off the folder until ``close()``.
    private var lock: FolderLock?

    private init(
        folder: String,
        list: ChunkList,
        paths: [ChunkIndex: String],
        lock: FolderLock?,
        threadPool: NIOThreadPool,
        listWriteDelay: Duration
    ) {
        self.folder = folder
        self.lock = lock
        self.total = list.total
        self.list = list
        self.served = Mutex(paths)
        self.threadPool = threadPool
        self.listWriteDelay = listWriteDelay
        (listWriteFailures, failures) = AsyncStream.makeStream(of: FileSystemError.self, bufferingPolicy: .bufferingNewest(16))
    }

    /// Opens and checks a chunk folder, or throws an error naming the file, line and problem.
    ///
    /// Blocking; call it at start-up, before anything is sent or written. The folder is not
    /// changed, except that temporary files left by an interrupted download are removed. It
    /// stays locked against other clients (``ChunkFolderError/inUse(path:by:)``) until
    /// ``close()``, or until the store is gone.
    public static func open(
        folder: String,
        threadPool: NIOThreadPool = .singleton,
        listWriteDelay: Duration = defaultListWriteDelay
    ) throws(ChunkFolderError) -> ChunkStore {
        guard let kind = FileSystem.kind(of: folder) else { throw .folderMissing(path: folder) }
        guard kind == S_IFDIR, let root = FileSystem.realPath(folder) else { throw .notAFolder(path: folder) }
        let listPath = "\(folder)/\(ChunkList.fileName)"
        guard FileSystem.kind(of: listPath) != nil else { throw .listMissing(path: listPath) }
        let text: String
        do { text = try FileSystem.readText(listPath) } catch { throw .unreadable(path: listPath, reason: error.reason) }
        let list = try ChunkList(parsing: text, file: listPath)

        var paths: [ChunkIndex: String] = [:]
        for (index, name) in list.files {
            let line = list.lineNumbers[index] ?? 0
            let path = "\(folder)/\(name)"
            guard let resolved = FileSystem.realPath(path), FileSystem.kind(of: resolved) == S_IFREG else {
                throw .chunkFileMissing(file: listPath, line: line, name: name)
            }
            guard resolved.hasPrefix(root + "/") else {
                throw .badLine(
                    file: listPath,
                    line: line,
                    text: "\(index),\(name)",
                    reason: "file \"\(name)\" is a link to \(resolved), outside the folder"
                )
            }
            paths[index] = resolved
        }
        // Before anything is removed: the temporary files of a client running on the folder are not leftovers.
        let lock = try FolderLock.acquire(folder)
        // Left by a client killed mid-download or mid-rewrite of its list: never listed, so unneeded.
        let listTemporaryPrefix = FileSystem.temporaryPrefix(for: ChunkList.fileName)
        for name in FileSystem.entries(of: folder) where name.hasPrefix(partialPrefix) || name.hasPrefix(listTemporaryPrefix) {
            unlink("\(folder)/\(name)")
        }
        return ChunkStore(folder: folder, list: list, paths: paths, lock: lock, threadPool: threadPool, listWriteDelay: listWriteDelay)
    }

    /// The indexes held now.
    public var heldIndexes: Set<ChunkIndex> { Set(list.files.keys) }

    /// The file serving chunk `index`, or `nil` if it is not listed. Safe from any thread.
    public nonisolated func servingPath(for index: ChunkIndex) -> String? {
        served.withLock { $0[index] }
    }

    /// Computes the SHA-1 of every held chunk, on the thread pool.
    public func hashHeldChunks() async throws -> [ChunkIndex: SHA1Digest] {
        let paths = served.withLock { $0 }
        var digests: [ChunkIndex: SHA1Digest] = [:]
        try await withThrowingTaskGroup(of: (ChunkIndex, SHA1Digest).self) { group in
            var pending = paths.makeIterator()
            func addNext() -> Bool {
                guard let (index, path) = pending.next() else { return false }
                group.addTask { [threadPool] in
                    (index, try await threadPool.runIfActive { try ChunkHasher.digest(ofFileAt: path) })
                }
                return true
            }
            for _ in 0..<4 where addNext() {}
            while let (index, digest) = try await group.next() {
                digests[index] = digest
                _ = addNext()
            }
        }
        return digests
    }

    /// Starts a download of chunk `index` into a temporary file in the folder, written in
    /// batches of `batchSize` bytes.
    public nonisolated func beginDownload(of index: ChunkIndex, batchSize: Int = ChunkDownload.defaultBatchSize) async throws -> ChunkDownload {
        let path = "\(folder)/\(Self.partialPrefix)\(index)-\(UInt32.random(in: 0...UInt32.max))"
        return try await ChunkDownload(path: path, index: index, threadPool: threadPool, batchSize: batchSize)
    }

    /// Removes a received chunk that will not be kept (its digest did not match, or another
    /// copy was kept), even from a cancelled task.
    public nonisolated func discard(_ download: ReceivedChunk) async {
        let path = download.path
        await threadPool.runCleanUp { unlink(path) }
    }

    /// Keeps a finished download as `chunk_<i>`, held and served from now on, and lists it in
    /// `local_chunks.txt` within ``listWriteDelay``.
    ///
    /// The caller has checked the digest. Throws, keeping nothing, if the file cannot be renamed;
    /// throws ``StoreClosed`` once the store is closed (a file renamed meanwhile stays unlisted,
    /// as after a crash). A cancelled task commits all the same: the chunk is whole and checked.
    public func commit(_ download: ReceivedChunk) async throws {
        guard !isClosed else {
            await discard(download)
            throw StoreClosed()
        }
        let index = download.index
        let name = "chunk_\(index)"
        let finalPath = "\(folder)/\(name)"
        let partial = download.path
        try await threadPool.runToCompletion {
            guard rename(partial, finalPath) == 0 else {
                let reason = FileSystem.lastError
                unlink(partial)
                throw FileSystemError(path: finalPath, reason: reason)
            }
        }
        guard !isClosed else { throw StoreClosed() }
        list.add(index, fileName: name)
        listVersion += 1
        let resolved = FileSystem.realPath(finalPath) ?? finalPath
        served.withLock { $0[index] = resolved }
        scheduleListWrite(after: listWriteDelay)
    }

    /// Writes the list a last time and refuses every commit from now on, so that what the list
    /// says is final; for a client that is stopping. Works from a cancelled task.
    public func close() async throws {
        isClosed = true
        defer { lock = nil }
        try await flush()
    }

    /// Writes the list now if a commit is not on disk yet, even from a cancelled task; throws
    /// if it cannot be written.
    public func flush() async throws {
        scheduledWrite?.cancel()
        scheduledWrite = nil
        do {
            try await writeNewestList()
        } catch {
            scheduleListWrite(after: Self.listRetryDelay)
            throw error
        }
    }

    private func scheduleListWrite(after delay: Duration) {
        guard scheduledWrite == nil else { return }
        scheduledWrite = Task {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            await writeScheduledList()
        }
    }

    private func writeScheduledList() async {
        // Commits from now on schedule the next write: this one may start before them.
        scheduledWrite = nil
        do {
            try await writeNewestList()
        } catch {
            failures.yield(error as? FileSystemError ?? FileSystemError(path: "\(folder)/\(ChunkList.fileName)", reason: "\(error)"))
            scheduleListWrite(after: Self.listRetryDelay)
        }
    }

    /// Rewrites `local_chunks.txt` with the current list unless a write has already; one write
    /// at a time, and an older list never replaces a newer one. The text is made on the thread
    /// pool, once per write: for 100,000 chunks it takes tens of milliseconds.
    private func writeNewestList() async throws {
        let (listPath, written, version, snapshot) = ("\(folder)/\(ChunkList.fileName)", writtenVersion, listVersion, list)
        try await threadPool.runToCompletion {
            try written.withLockedValue { writtenVersion in
                guard version > writtenVersion else { return }
                try FileSystem.replaceAtomically(listPath, with: snapshot.text)
                writtenVersion = version
            }
        }
    }
}

/// A commit refused because the store was closed (the client is stopping).
public struct StoreClosed: Error, CustomStringConvertible {
    public var description: String { "the chunk folder is closed: the client is stopping" }
}

/// SHA-1 of files, streamed in blocks so memory does not grow with chunk size.
public enum ChunkHasher {
    static let blockSize = 1 << 20

    /// The SHA-1 of the file at `path`, as a client hashes its chunks at start. Blocking.
    public static func digest(ofFileAt path: String) throws -> SHA1Digest {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError(path: path, reason: FileSystem.lastError) }
        defer { close(descriptor) }
        var hasher = Insecure.SHA1()
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { block.deallocate() }
        while true {
            let count = read(descriptor, block.baseAddress, blockSize)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileSystemError(path: path, reason: FileSystem.lastError) }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: block[0..<count]))
        }
        return SHA1Digest(bytes: hasher.finalize())
    }
}
