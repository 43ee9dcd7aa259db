import Crypto
import NIOCore
import NIOPosix
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One chunk being received: bytes stream into a temporary file and into SHA-1 in the same pass.
///
/// Received buffers are kept as they are (no copy) until a batch of `batchSize` bytes is
/// gathered, then written with one `writev` on the thread pool while the next batch is received
/// and hashed. At most one batch is being written, so memory stays bounded whatever the chunk
/// size, and no event loop ever waits on the disk. Either ``ChunkStore/commit(_:)`` keeps the
/// file or ``discard()`` removes it.
public final class ChunkDownload {
    /// How many bytes are gathered before one write to disk, unless told otherwise.
    public static let defaultBatchSize = 1 << 20

    /// How many bytes this download gathers before one write to disk.
    let batchSize: Int

    /// The chunk being received.
    public let index: ChunkIndex
    /// The temporary file.
    let path: String
    /// Bytes received so far.
    public private(set) var byteCount = 0

    private let descriptor: Int32
    private let threadPool: NIOThreadPool
    private var hasher = Insecure.SHA1()
    private var batch: [ByteBuffer] = []
    private var batchBytes = 0
    /// The batch being written, if any.
    private var writing: Task<Void, Error>?
    private var isClosed = false

    init(path: String, index: ChunkIndex, threadPool: NIOThreadPool, batchSize: Int = defaultBatchSize) async throws {
        let descriptor = try await threadPool.runIfActive {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw FileSystemError(path: path, reason: FileSystem.lastError) }
            return descriptor
        }
        self.path = path
        self.index = index
        self.descriptor = descriptor
        self.threadPool = threadPool
        self.batchSize = batchSize
    }

    /// Hashes and keeps `bytes`; hands a batch to the disk when one is full.
    public func append(_ bytes: ByteBuffer) async throws {
        bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        byteCount += bytes.readableBytes
        batch.append(bytes)
        batchBytes += bytes.readableBytes
        if batchBytes >= batchSize { try await startWrite() }
    }

    /// Writes what is left, closes the file and returns what was received, with its SHA-1.
    public func finish() async throws -> ReceivedChunk {
        try await writing?.value
        writing = nil
        let (buffers, descriptor, path) = (batch, self.descriptor, self.path)
        batch = []
        batchBytes = 0
        isClosed = true
        // The last batch and the close in one trip to the thread pool (a chunk smaller than a
        // batch costs one trip besides its open), made even from a cancelled task: the file is
        // closed whatever happens.
        try await threadPool.runToCompletion {
            defer { close(descriptor) }
            if !buffers.isEmpty { try FileSystem.writeAll(descriptor, buffers, path: path) }
        }
        return ReceivedChunk(index: index, path: path, digest: SHA1Digest(bytes: hasher.finalize()), byteCount: byteCount)
    }

    /// Closes and removes the temporary file: the bytes are not kept. Done even when the
    /// fetch was cancelled.
    public func discard() async {
        let (descriptor, path, wasClosed) = (self.descriptor, self.path, isClosed)
        isClosed = true
        await threadPool.runCleanUp(after: writing) {
            if !wasClosed { close(descriptor) }
            unlink(path)
        }
        writing = nil
    }

    /// Waits for the batch being written, then starts writing the gathered one.
    private func startWrite() async throws {
        try await writing?.value
        let (buffers, descriptor, path, threadPool) = (batch, self.descriptor, self.path, self.threadPool)
        batch = []
        batchBytes = 0
        writing = Task {
            try await threadPool.runIfActive { try FileSystem.writeAll(descriptor, buffers, path: path) }
        }
    }
}

/// A chunk fully received into its temporary file, not yet kept: ``ChunkStore/commit(_:)`` keeps it.
public struct ReceivedChunk: Sendable {
    /// The chunk.
    public let index: ChunkIndex
    /// Its temporary file.
    let path: String
    /// The SHA-1 of the bytes received.
    public let digest: SHA1Digest
    /// How many bytes were received.
    public let byteCount: Int
    /// The connection's handshake round trip, as the kernel measured it, when known.
    public internal(set) var roundTrip: Duration?
}
