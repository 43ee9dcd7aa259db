import NIOCore

/// The 68 bytes that open a peer connection: protocol name, reserved bits, info-hash, peer id.
public struct Handshake: Sendable, Equatable {
    /// `\x13BitTorrent protocol`.
    public static let prefix: [UInt8] = [19] + Array("BitTorrent protocol".utf8)
    /// Bytes on the wire.
    public static let length = 68

    /// Eight bytes of feature bits.
    public var reserved: [UInt8]
    public var infoHash: InfoHash
    /// 20 bytes naming the peer, usually `-XX1234-` and random bytes.
    public var peerID: [UInt8]

    /// A handshake announcing the fast extension (BEP 6) and the extension protocol (BEP 10).
    public init(infoHash: InfoHash, peerID: [UInt8], fastExtension: Bool = true, extensionProtocol: Bool = true) {
        var reserved = [UInt8](repeating: 0, count: 8)
        if extensionProtocol { reserved[5] |= 0x10 }
        if fastExtension { reserved[7] |= 0x04 }
        self.init(reserved: reserved, infoHash: infoHash, peerID: peerID)
    }

    public init(reserved: [UInt8], infoHash: InfoHash, peerID: [UInt8]) {
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }

    /// BEP 6's bit.
    public var supportsFastExtension: Bool { reserved[7] & 0x04 != 0 }
    /// BEP 10's bit.
    public var supportsExtensionProtocol: Bool { reserved[5] & 0x10 != 0 }

    /// Writes the 68 bytes.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.prefix)
        buffer.writeBytes(reserved)
        buffer.writeBytes(infoHash.bytes)
        buffer.writeBytes(peerID)
    }
}

/// What a peer connection reads: its handshake first, then messages.
public enum PeerWireFrame: Sendable, Equatable {
    case handshake(Handshake)
    case message(PeerMessage)
}

/// Cuts a peer connection's bytes into its handshake and then length-prefixed messages.
///
/// Refuses at once (``PeerWireError/notBitTorrent``) as soon as the first bytes differ from
/// `\x13BitTorrent protocol`: clients that open with an encrypted handshake retry in plaintext
/// only once the connection closes. A length prefix over `maximumLength` is refused before any
/// of the message is buffered; messages with unknown ids are skipped (BEP 3).
public struct PeerWireDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PeerWireFrame

    private var awaitingHandshake: Bool
    private let maximumLength: Int

    /// - Parameters:
    ///   - maximumLength: the largest message accepted, its id included: enough for a 16 KiB
    ///     block and for the torrent's bitfield.
    ///   - expectsHandshake: `false` to read messages only (tests).
    public init(maximumLength: Int, expectsHandshake: Bool = true) {
        self.maximumLength = maximumLength
        self.awaitingHandshake = expectsHandshake
    }

    /// The largest message a connection for a torrent of `pieceCount` pieces must accept: a
    /// 128 KiB block (libtorrent accepts requests that large) or the bitfield, whichever is larger.
    public static func maximumLength(pieceCount: Int) -> Int {
        max(9 + (128 << 10), 1 + (pieceCount + 7) / 8, 1 << 16)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> PeerWireFrame? {
        if awaitingHandshake { return try decodeHandshake(&buffer) }
        while true {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
            guard length <= maximumLength else { throw PeerWireError.tooLong(Int(length), maximum: maximumLength) }
            guard buffer.readableBytes >= 4 + Int(length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 4)
            if length == 0 { return .message(.keepAlive) }
            let id = buffer.readInteger(as: UInt8.self)!
            var payload = buffer.readSlice(length: Int(length) - 1)!
            if let message = try PeerMessage.parse(id: id, payload: &payload) { return .message(message) }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PeerWireFrame? {
        try decode(buffer: &buffer)
    }

    private mutating func decodeHandshake(_ buffer: inout ByteBuffer) throws -> PeerWireFrame? {
        let seen = min(buffer.readableBytes, Handshake.prefix.count)
        guard buffer.getBytes(at: buffer.readerIndex, length: seen) == Array(Handshake.prefix.prefix(seen)) else {
            throw PeerWireError.notBitTorrent
        }
        guard buffer.readableBytes >= Handshake.length else { return nil }
        buffer.moveReaderIndex(forwardBy: Handshake.prefix.count)
        let reserved = buffer.readBytes(length: 8)!
        let infoHash = InfoHash(bytes: buffer.readBytes(length: 20)!)!
        let peerID = buffer.readBytes(length: 20)!
        awaitingHandshake = false
        return .handshake(Handshake(reserved: reserved, infoHash: infoHash, peerID: peerID))
    }
}

/// The bits of a `bitfield`: which pieces a peer holds.
public struct Bitfield: Sendable, Equatable {
    /// Pieces in the torrent.
    public let count: Int
    private var bits: [UInt8]

    /// No piece held.
    public init(count: Int) {
        self.count = count
        self.bits = [UInt8](repeating: 0, count: (count + 7) / 8)
    }

    /// A peer's `bitfield` bytes: exactly as many bytes as `count` needs, spare bits clear.
    ///
    /// - Throws: ``BitfieldError`` naming what is wrong.
    public init(bytes: [UInt8], count: Int) throws(BitfieldError) {
        guard bytes.count == (count + 7) / 8 else { throw .wrongSize(bytes.count, expected: (count + 7) / 8) }
        if count % 8 != 0, let last = bytes.last, last & (0xff >> UInt8(count % 8)) != 0 { throw .spareBitsSet }
        self.count = count
        self.bits = bytes
    }

    /// Every piece held.
    public static func full(count: Int) -> Bitfield {
        var field = Bitfield(count: count)
        for piece in 0..<count { field[piece] = true }
        return field
    }

    public subscript(piece: Int) -> Bool {
        get { bits[piece / 8] & (0x80 >> UInt8(piece % 8)) != 0 }
        set {
            if newValue { bits[piece / 8] |= 0x80 >> UInt8(piece % 8) } else { bits[piece / 8] &= ~(0x80 >> UInt8(piece % 8)) }
        }
    }

    /// The bytes, as a `bitfield` message carries them.
    public var bytes: [UInt8] { bits }

    /// Pieces held.
    public var heldCount: Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Whether every piece is held.
    public var isFull: Bool { heldCount == count }

    /// The pieces held, in order.
    public var heldPieces: [Int] { (0..<count).filter { self[$0] } }
}

/// Why a peer's bitfield was refused.
public enum BitfieldError: Error, Equatable, CustomStringConvertible {
    case wrongSize(Int, expected: Int)
    case spareBitsSet

    public var description: String {
        switch self {
        case .wrongSize(let size, let expected): return "bitfield of \(size) bytes, expected \(expected)"
        case .spareBitsSet: return "bitfield with spare bits set past the last piece"
        }
    }
}
