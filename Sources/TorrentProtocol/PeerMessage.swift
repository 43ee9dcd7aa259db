import NIOCore

/// A block of a piece: what `request`, `cancel` and `reject` name.
public struct BlockRequest: Sendable, Hashable, CustomStringConvertible {
    /// The piece, 0-based.
    public var piece: Int
    /// The first byte within the piece.
    public var begin: Int
    /// Bytes asked for.
    public var length: Int

    public init(piece: Int, begin: Int, length: Int) {
        self.piece = piece
        self.begin = begin
        self.length = length
    }

    public var description: String { "piece \(piece) bytes \(begin)..<\(begin + length)" }

    /// The usual block size: 16 KiB, what every client asks for and what many refuse to exceed.
    public static let standardLength = 16 << 10
}

/// A message of the peer wire protocol after the handshake (BEP 3, with BEP 6's fast extension
/// and BEP 10's extension envelope).
public enum PeerMessage: Sendable, Equatable {
    /// Zero-length: nothing to say, the connection is alive.
    case keepAlive
    case choke
    case unchoke
    case interested
    case notInterested
    case have(piece: Int)
    /// The pieces the sender holds, one bit each, high bit first.
    case bitfield([UInt8])
    case request(BlockRequest)
    case piece(piece: Int, begin: Int, block: ByteBuffer)
    case cancel(BlockRequest)
    /// BEP 5: the sender's DHT port (read, and ignored: no DHT yet).
    case port(Int)
    /// BEP 6.
    case suggest(piece: Int)
    case haveAll
    case haveNone
    case reject(BlockRequest)
    case allowedFast(piece: Int)
    /// BEP 10: an extension message, `id` 0 being the extension handshake.
    case extended(id: UInt8, payload: [UInt8])

    /// The message's id byte (`nil` for a keep-alive).
    public var id: UInt8? {
        switch self {
        case .keepAlive: return nil
        case .choke: return 0
        case .unchoke: return 1
        case .interested: return 2
        case .notInterested: return 3
        case .have: return 4
        case .bitfield: return 5
        case .request: return 6
        case .piece: return 7
        case .cancel: return 8
        case .port: return 9
        case .suggest: return 13
        case .haveAll: return 14
        case .haveNone: return 15
        case .reject: return 16
        case .allowedFast: return 17
        case .extended: return 20
        }
    }

    /// A short name for logs: `request`, `have_all`.
    public var name: String {
        switch self {
        case .keepAlive: return "keep-alive"
        case .choke: return "choke"
        case .unchoke: return "unchoke"
        case .interested: return "interested"
        case .notInterested: return "not interested"
        case .have: return "have"
        case .bitfield: return "bitfield"
        case .request: return "request"
        case .piece: return "piece"
        case .cancel: return "cancel"
        case .port: return "port"
        case .suggest: return "suggest"
        case .haveAll: return "have_all"
        case .haveNone: return "have_none"
        case .reject: return "reject"
        case .allowedFast: return "allowed_fast"
        case .extended: return "extended"
        }
    }

    /// Whether the message belongs to the fast extension, which only peers that set its bit may send.
    public var isFastExtension: Bool {
        switch self {
        case .suggest, .haveAll, .haveNone, .reject, .allowedFast: return true
        default: return false
        }
    }

    /// Writes the length prefix and the message.
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .keepAlive:
            buffer.writeInteger(UInt32(0))
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone:
            buffer.writeInteger(UInt32(1))
            buffer.writeInteger(id!)
        case .have(let piece), .suggest(let piece), .allowedFast(let piece):
            buffer.writeInteger(UInt32(5))
            buffer.writeInteger(id!)
            buffer.writeInteger(UInt32(piece))
        case .bitfield(let bits):
            buffer.writeInteger(UInt32(1 + bits.count))
            buffer.writeInteger(id!)
            buffer.writeBytes(bits)
        case .request(let block), .cancel(let block), .reject(let block):
            buffer.writeInteger(UInt32(13))
            buffer.writeInteger(id!)
            buffer.writeInteger(UInt32(block.piece))
            buffer.writeInteger(UInt32(block.begin))
            buffer.writeInteger(UInt32(block.length))
        case .piece(let piece, let begin, let block):
            buffer.writeInteger(UInt32(9 + block.readableBytes))
            buffer.writeInteger(id!)
            buffer.writeInteger(UInt32(piece))
            buffer.writeInteger(UInt32(begin))
            var block = block
            buffer.writeBuffer(&block)
        case .port(let port):
            buffer.writeInteger(UInt32(3))
            buffer.writeInteger(id!)
            buffer.writeInteger(UInt16(truncatingIfNeeded: port))
        case .extended(let extensionID, let payload):
            buffer.writeInteger(UInt32(2 + payload.count))
            buffer.writeInteger(id!)
            buffer.writeInteger(extensionID)
            buffer.writeBytes(payload)
        }
    }

    /// Reads one message body (after its length prefix): `id` then `payload`.
    ///
    /// - Throws: ``PeerWireError/malformed(_:length:)`` when the body's length does not fit its id.
    static func parse(id: UInt8, payload: inout ByteBuffer) throws(PeerWireError) -> PeerMessage? {
        let length = payload.readableBytes
        func fixed(_ expected: Int) throws(PeerWireError) {
            guard length == expected else { throw .malformed(id: id, length: length + 1) }
        }
        func block() throws(PeerWireError) -> BlockRequest {
            try fixed(12)
            let values = (payload.readInteger(as: UInt32.self)!, payload.readInteger(as: UInt32.self)!, payload.readInteger(as: UInt32.self)!)
            return BlockRequest(piece: Int(values.0), begin: Int(values.1), length: Int(values.2))
        }
        switch id {
        case 0: try fixed(0); return .choke
        case 1: try fixed(0); return .unchoke
        case 2: try fixed(0); return .interested
        case 3: try fixed(0); return .notInterested
        case 4: try fixed(4); return .have(piece: Int(payload.readInteger(as: UInt32.self)!))
        case 5: return .bitfield(payload.readBytes(length: length)!)
        case 6: return .request(try block())
        case 7:
            guard length >= 8 else { throw .malformed(id: id, length: length + 1) }
            let piece = Int(payload.readInteger(as: UInt32.self)!)
            let begin = Int(payload.readInteger(as: UInt32.self)!)
            return .piece(piece: piece, begin: begin, block: payload.readSlice(length: payload.readableBytes)!)
        case 8: return .cancel(try block())
        case 9: try fixed(2); return .port(Int(payload.readInteger(as: UInt16.self)!))
        case 13: try fixed(4); return .suggest(piece: Int(payload.readInteger(as: UInt32.self)!))
        case 14: try fixed(0); return .haveAll
        case 15: try fixed(0); return .haveNone
        case 16: return .reject(try block())
        case 17: try fixed(4); return .allowedFast(piece: Int(payload.readInteger(as: UInt32.self)!))
        case 20:
            guard length >= 1 else { throw .malformed(id: id, length: length + 1) }
            let extensionID = payload.readInteger(as: UInt8.self)!
            return .extended(id: extensionID, payload: payload.readBytes(length: payload.readableBytes)!)
        default:
            // BEP 3: unknown messages are ignored.
            return nil
        }
    }
}

/// Why bytes from a peer were refused. Each closes that one connection.
public enum PeerWireError: Error, Equatable, CustomStringConvertible {
    /// The first bytes were not `\x13BitTorrent protocol` (an encrypted handshake, or not BitTorrent).
    case notBitTorrent
    /// A length prefix over the largest message accepted.
    case tooLong(Int, maximum: Int)
    /// A message whose length does not fit its id.
    case malformed(id: UInt8, length: Int)
    /// The handshake names another torrent.
    case wrongInfoHash(InfoHash)

    public var description: String {
        switch self {
        case .notBitTorrent: return "not a BitTorrent handshake (encrypted, or another protocol)"
        case .tooLong(let length, let maximum): return "message of \(length) bytes, over the \(maximum) accepted"
        case .malformed(let id, let length): return "malformed message: id \(id) with \(length) bytes"
        case .wrongInfoHash(let hash): return "handshake for another torrent (\(hash))"
        }
    }
}
