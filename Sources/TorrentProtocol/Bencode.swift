/// A bencoded value (BEP 3): an integer, a byte string, a list, or a dictionary with byte-string
/// keys in ascending order.
///
/// ```swift
/// let value = try Bencode.decode(Array("d3:cow3:moo4:spamli1ei2eee".utf8))
/// value["cow"]?.text        // "moo"
/// value.encoded()           // the same bytes back
/// ```
public indirect enum Bencode: Sendable, Equatable {
    case integer(Int64)
    case bytes([UInt8])
    case list([Bencode])
    /// Entries in ascending key order, as the encoding requires.
    case dictionary([Entry])

    /// One key and its value.
    public struct Entry: Sendable, Equatable {
        public var key: [UInt8]
        public var value: Bencode

        public init(_ key: String, _ value: Bencode) {
            self.key = Array(key.utf8)
            self.value = value
        }

        public init(key: [UInt8], value: Bencode) {
            self.key = key
            self.value = value
        }
    }

    /// A byte string from text.
    public static func text(_ string: String) -> Bencode { .bytes(Array(string.utf8)) }

    /// A dictionary from entries in any order; they are sorted by key.
    public static func sortedDictionary(_ entries: [Entry]) -> Bencode {
        .dictionary(entries.sorted { $0.key.lexicographicallyPrecedes($1.key) })
    }

    /// The value under `key` in a dictionary; `nil` for a missing key or a value that is not one.
    public subscript(key: String) -> Bencode? {
        guard case .dictionary(let entries) = self else { return nil }
        let bytes = Array(key.utf8)
        return entries.first { $0.key == bytes }?.value
    }

    /// The integer, if this is one.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The bytes, if this is a byte string.
    public var bytes: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The bytes as UTF-8 text, if this is a byte string that is valid UTF-8.
    public var text: String? {
        guard case .bytes(let value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The elements, if this is a list.
    public var list: [Bencode]? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The entries, if this is a dictionary.
    public var entries: [Entry]? {
        if case .dictionary(let value) = self { return value }
        return nil
    }

    /// The value's encoding.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    /// Appends the value's encoding to `bytes`.
    public func encode(into bytes: inout [UInt8]) {
        switch self {
        case .integer(let value):
            bytes.append(UInt8(ascii: "i"))
            bytes.append(contentsOf: String(value).utf8)
            bytes.append(UInt8(ascii: "e"))
        case .bytes(let value):
            bytes.append(contentsOf: String(value.count).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: value)
        case .list(let values):
            bytes.append(UInt8(ascii: "l"))
            for value in values { value.encode(into: &bytes) }
            bytes.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            bytes.append(UInt8(ascii: "d"))
            for entry in entries {
                Bencode.bytes(entry.key).encode(into: &bytes)
                entry.value.encode(into: &bytes)
            }
            bytes.append(UInt8(ascii: "e"))
        }
    }
}

/// Why bytes are not bencode. Each names the byte offset where reading stopped.
public enum BencodeError: Error, Equatable, CustomStringConvertible {
    case unexpectedEnd
    case unexpectedByte(UInt8, at: Int)
    case badInteger(at: Int)
    case badLength(at: Int)
    case lengthPastEnd(Int, at: Int)
    case tooDeep(at: Int)
    case keyNotAString(at: Int)
    case keysOutOfOrder(String, at: Int)
    case duplicateKey(String, at: Int)
    case trailingBytes(at: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd: return "not bencode: the data ends in the middle of a value"
        case .unexpectedByte(let byte, let at): return "not bencode: unexpected byte 0x\(String(byte, radix: 16)) at offset \(at)"
        case .badInteger(let at): return "not bencode: malformed integer at offset \(at) (leading zero, -0, no digits, or too large)"
        case .badLength(let at): return "not bencode: malformed string length at offset \(at)"
        case .lengthPastEnd(let length, let at): return "not bencode: a string of \(length) bytes at offset \(at) runs past the end"
        case .tooDeep(let at): return "not bencode: lists and dictionaries nested too deep at offset \(at)"
        case .keyNotAString(let at): return "not bencode: a dictionary key at offset \(at) is not a string"
        case .keysOutOfOrder(let key, let at): return "not bencode: dictionary key \"\(key)\" at offset \(at) is out of order"
        case .duplicateKey(let key, let at): return "not bencode: dictionary key \"\(key)\" at offset \(at) appears twice"
        case .trailingBytes(let at): return "not bencode: bytes after the value, from offset \(at)"
        }
    }
}

extension Bencode {
    /// How deep lists and dictionaries may nest: real torrents and tracker answers need a handful.
    public static let maximumDepth = 64

    /// Decodes exactly one value filling `bytes`.
    ///
    /// - Parameter requireSortedKeys: refuse dictionaries whose keys are not in ascending order
    ///   (metainfo); tracker answers are read with `false`, as some trackers do not sort.
    public static func decode(_ bytes: [UInt8], requireSortedKeys: Bool = true) throws(BencodeError) -> Bencode {
        var reader = BencodeReader(bytes: bytes, requireSortedKeys: requireSortedKeys)
        let value = try reader.value(depth: 0)
        guard reader.position == bytes.count else { throw .trailingBytes(at: reader.position) }
        return value
    }

    /// Decodes the one value `bytes` start with, and how many bytes it took: BEP 9's messages
    /// are a dictionary followed by raw data.
    public static func decodePrefix(_ bytes: [UInt8]) throws(BencodeError) -> (value: Bencode, length: Int) {
        var reader = BencodeReader(bytes: bytes, requireSortedKeys: false)
        let value = try reader.value(depth: 0)
        return (value, reader.position)
    }

    /// Decodes one dictionary filling `bytes`, with the byte range each top-level value
    /// occupies: the info-hash is the SHA-1 of the `info` value's own bytes, whatever their order.
    public static func decodeDictionaryWithRanges(_ bytes: [UInt8]) throws(BencodeError) -> (value: Bencode, ranges: [String: Range<Int>]) {
        var reader = BencodeReader(bytes: bytes, requireSortedKeys: true)
        var ranges: [String: Range<Int>] = [:]
        let value = try reader.value(depth: 0) { key, range in ranges[key] = range }
        guard reader.position == bytes.count else { throw .trailingBytes(at: reader.position) }
        return (value, ranges)
    }
}

/// A recursive-descent reader over a byte array.
private struct BencodeReader {
    let bytes: [UInt8]
    let requireSortedKeys: Bool
    var position = 0

    init(bytes: [UInt8], requireSortedKeys: Bool) {
        self.bytes = bytes
        self.requireSortedKeys = requireSortedKeys
    }

    mutating func value(depth: Int, topLevelRange: ((String, Range<Int>) -> Void)? = nil) throws(BencodeError) -> Bencode {
        guard position < bytes.count else { throw .unexpectedEnd }
        let start = position
        switch bytes[position] {
        case UInt8(ascii: "i"):
            position += 1
            let value = try integer(until: UInt8(ascii: "e"), at: start)
            return .integer(value)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .bytes(try string())
        case UInt8(ascii: "l"):
            guard depth < Bencode.maximumDepth else { throw .tooDeep(at: start) }
            position += 1
            var values: [Bencode] = []
            while true {
                guard position < bytes.count else { throw .unexpectedEnd }
                if bytes[position] == UInt8(ascii: "e") { break }
                values.append(try value(depth: depth + 1))
            }
            position += 1
            return .list(values)
        case UInt8(ascii: "d"):
            guard depth < Bencode.maximumDepth else { throw .tooDeep(at: start) }
            position += 1
            var entries: [Bencode.Entry] = []
            var seen = Set<[UInt8]>()
            while true {
                guard position < bytes.count else { throw .unexpectedEnd }
                if bytes[position] == UInt8(ascii: "e") { break }
                let keyStart = position
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else { throw .keyNotAString(at: keyStart) }
                let key = try string()
                let keyText = String(decoding: key, as: UTF8.self)
                guard !seen.contains(key) else { throw .duplicateKey(keyText, at: keyStart) }
                if requireSortedKeys, let last = entries.last?.key, !last.lexicographicallyPrecedes(key) {
                    throw .keysOutOfOrder(keyText, at: keyStart)
                }
                seen.insert(key)
                let valueStart = position
                let element = try value(depth: depth + 1)
                topLevelRange?(keyText, valueStart..<position)
                entries.append(Bencode.Entry(key: key, value: element))
            }
            position += 1
            if !requireSortedKeys { entries.sort { $0.key.lexicographicallyPrecedes($1.key) } }
            return .dictionary(entries)
        default:
            throw .unexpectedByte(bytes[position], at: start)
        }
    }

    /// `<length>:<bytes>`, the length with no leading zeros and no further than the data.
    mutating func string() throws(BencodeError) -> [UInt8] {
        let start = position
        let length = try integer(until: UInt8(ascii: ":"), at: start, allowNegative: false)
        guard length <= Int64(bytes.count - position) else { throw .lengthPastEnd(Int(clamping: length), at: start) }
        let end = position + Int(length)
        defer { position = end }
        return Array(bytes[position..<end])
    }

    /// Digits up to `terminator`: no leading zeros, no `-0`, within `Int64`.
    mutating func integer(until terminator: UInt8, at start: Int, allowNegative: Bool = true) throws(BencodeError) -> Int64 {
        let malformed: BencodeError = terminator == UInt8(ascii: ":") ? .badLength(at: start) : .badInteger(at: start)
        var negative = false
        if allowNegative, position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var value: Int64 = 0
        while position < bytes.count, bytes[position] != terminator {
            let byte = bytes[position]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw terminator == UInt8(ascii: ":") ? malformed : .unexpectedByte(byte, at: position)
            }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw malformed }
            value = sum
            position += 1
        }
        guard position < bytes.count else { throw .unexpectedEnd }
        let digits = position - digitsStart
        guard digits > 0 else { throw malformed }
        if bytes[digitsStart] == UInt8(ascii: "0"), digits > 1 || negative { throw malformed }
        position += 1  // the terminator
        return negative ? -value : value
    }
}
