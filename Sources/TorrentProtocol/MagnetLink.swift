/// A magnet link (BEP 9): the info-hash of a torrent, and perhaps its name and trackers.
///
/// ```swift
/// let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&tr=udp%3A%2F%2Ft%3A1")
/// link.trackers   // ["udp://t:1"]
/// ```
public struct MagnetLink: Sendable, Equatable {
    public var infoHash: InfoHash
    /// The suggested name (`dn`), if given.
    public var name: String?
    /// Tracker URLs (`tr`), in order.
    public var trackers: [String]

    public init(parsing text: String) throws(MagnetLinkError) {
        guard text.hasPrefix("magnet:?") else { throw .notAMagnetLink }
        var hash: InfoHash?
        var name: String?
        var trackers: [String] = []
        for field in text.dropFirst("magnet:?".count).split(separator: "&") {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Self.percentDecoded(parts[1]) else { throw .malformedField(String(field)) }
            switch parts[0] {
            case "xt":
                guard value.lowercased().hasPrefix("urn:btih:") else { continue }  // Other hashes (v2's btmh) are not ours.
                let digits = String(value.dropFirst("urn:btih:".count))
                guard let parsed = InfoHash(hex: digits) ?? Self.base32(digits) else { throw .badInfoHash(digits) }
                hash = parsed
            case "dn":
                name = value
            case "tr":
                trackers.append(value)
            default:
                continue
            }
        }
        guard let hash else { throw .noInfoHash }
        self.infoHash = hash
        self.name = name
        self.trackers = trackers
    }

    /// `%XX` and `+` decoded; `nil` for a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// 32 characters of RFC 4648 base32 (as older magnet links carry the hash).
    static func base32(_ text: String) -> InfoHash? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        let characters = Array(text.uppercased().utf8)
        guard characters.count == 32 else { return nil }
        var bits = 0
        var value = 0
        var bytes: [UInt8] = []
        for character in characters {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            value = value << 5 | index
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: value >> bits))
                value &= (1 << bits) - 1
            }
        }
        return InfoHash(bytes: bytes)
    }
}

/// Why a magnet link cannot be used.
public enum MagnetLinkError: Error, Equatable, CustomStringConvertible {
    case notAMagnetLink
    case malformedField(String)
    case badInfoHash(String)
    case noInfoHash

    public var description: String {
        switch self {
        case .notAMagnetLink: return "not a magnet link (it must start with magnet:?)"
        case .malformedField(let field): return "malformed field \"\(field)\" (a bad %-escape, or not UTF-8)"
        case .badInfoHash(let text): return "\"\(text)\" is not an info-hash (40 hexadecimal digits or 32 base32 characters)"
        case .noInfoHash: return "no xt=urn:btih:<info-hash> field: a magnet link must name its torrent"
        }
    }
}

/// BEP 9's `ut_metadata` messages: a dictionary (`msg_type`, `piece`, `total_size`), and for
/// `data` the piece's bytes after it.
public enum MetadataMessage: Sendable, Equatable {
    case request(piece: Int)
    case data(piece: Int, totalSize: Int, bytes: [UInt8])
    case reject(piece: Int)

    /// Metadata travels in pieces of 16 KiB (the last shorter).
    public static let pieceLength = 16 << 10
    /// The largest metadata accepted: libtorrent's own limit is about the same.
    public static let maximumSize = 10 << 20

    public func encoded() -> [UInt8] {
        switch self {
        case .request(let piece):
            return Bencode.sortedDictionary([Bencode.Entry("msg_type", .integer(0)), Bencode.Entry("piece", .integer(Int64(piece)))]).encoded()
        case .data(let piece, let totalSize, let bytes):
            return Bencode.sortedDictionary([
                Bencode.Entry("msg_type", .integer(1)), Bencode.Entry("piece", .integer(Int64(piece))), Bencode.Entry("total_size", .integer(Int64(totalSize))),
            ]).encoded() + bytes
        case .reject(let piece):
            return Bencode.sortedDictionary([Bencode.Entry("msg_type", .integer(2)), Bencode.Entry("piece", .integer(Int64(piece)))]).encoded()
        }
    }

    /// Reads one message; `nil` for one of another type or malformed.
    public init?(payload: [UInt8]) {
        guard let (value, length) = try? Bencode.decodePrefix(payload), let type = value["msg_type"]?.integer,
            let piece = value["piece"]?.integer, piece >= 0, piece < Int64(Self.maximumSize / Self.pieceLength + 1)
        else { return nil }
        switch type {
        case 0: self = .request(piece: Int(piece))
        case 1:
            guard let total = value["total_size"]?.integer, total > 0, total <= Int64(Self.maximumSize) else { return nil }
            self = .data(piece: Int(piece), totalSize: Int(total), bytes: Array(payload[length...]))
        case 2: self = .reject(piece: Int(piece))
        default: return nil
        }
    }
}
