import Crypto
import NIOCore
import SwarmProtocol
import TorrentProtocol

/// A piece being received: its blocks kept in memory as they arrive, with who sent each, until
/// the last one is in; then the whole piece is checked against its SHA-1 and written in one go,
/// so data that fails its check never reaches the disk.
struct PieceAssembly {
    /// The piece's bytes; a block's bytes are there once it arrived.
    private(set) var bytes: ByteBuffer
    /// Who sent each block (block number → sender), to find a bad sender if the piece fails.
    private(set) var senders: [Int: BlockSender] = [:]

    init(length: Int) {
        bytes = ByteBufferAllocator().buffer(capacity: length)
        bytes.moveWriterIndex(to: length)
    }

    /// Keeps `block`, which starts at byte `begin` of the piece, sent by `sender`.
    mutating func add(_ block: ByteBuffer, at begin: Int, from sender: BlockSender) {
        bytes.setBuffer(block, at: begin)
        senders[begin / BlockRequest.standardLength] = sender
    }

    /// The SHA-1 of block `block` of `bytes` (a whole piece).
    static func digest(of block: Int, in bytes: ByteBuffer) -> [UInt8] {
        let begin = block * BlockRequest.standardLength
        let length = min(BlockRequest.standardLength, bytes.readableBytes - begin)
        return bytes.withUnsafeReadableBytes { Array(Insecure.SHA1.hash(data: UnsafeRawBufferPointer(rebasing: $0[begin..<begin + length]))) }
    }
}

/// Who sent one block of a piece, to find the bad sender if the piece fails.
struct BlockSender {
    var peerID: [UInt8]
    var address: PeerAddress
}

/// The disk work one connection has under way (blocks read for the peer, pieces it completed
/// being checked and written), bounded in bytes: past the bound, the connection waits for the
/// oldest before it reads on, so a slow disk slows the peer rather than filling memory.
struct DiskWork {
    /// Bytes of work under way past which the connection waits (2 MiB).
    static let byteLimit = 2 << 20

    private var tasks: [(task: Task<Void, Never>, bytes: Int)] = []
    private var bytes = 0

    /// Adds `task`, which holds `bytes` in memory, and waits while too much is under way.
    mutating func add(_ task: Task<Void, Never>, bytes count: Int) async {
        tasks.append((task, count))
        bytes += count
        while bytes > Self.byteLimit, tasks.count > 1 {
            let oldest = tasks.removeFirst()
            await oldest.task.value
            bytes -= oldest.bytes
        }
    }

    /// Waits for all the work under way.
    mutating func finish() async {
        for work in tasks { await work.task.value }
        tasks.removeAll()
        bytes = 0
    }
}
