/// A tracker's side of an HTTP announce or scrape: the query string of `GET /announce?…` or
/// `GET /scrape?…`, read and checked, with a message naming the problem for anything wrong.
/// Written for a busy tracker: one pass over the bytes, no strings, no per-key dictionary.
public enum TrackerQuery {
    /// Calls `body` with each `name=value` pair of `query`, both still percent-encoded.
    public static func forEachPair(_ query: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) throws(TrackerQueryError) -> Void) throws(TrackerQueryError) {
        var start = query.startIndex
        while start < query.endIndex {
            let end = query[start...].firstIndex(of: UInt8(ascii: "&")) ?? query.endIndex
            if end > start {
                let part = query[start..<end]
                let equals = part.firstIndex(of: UInt8(ascii: "=")) ?? end
                try body(part[..<equals], equals == end ? part[end...] : part[(equals + 1)...])
            }
            start = end + 1
        }
    }

    /// Percent-decodes `text` (`+` is a space, as browsers send it; BitTorrent clients send
    /// `%XX` for every binary byte); `nil` for a `%` not followed by two hexadecimal digits.
    public static func decode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "%"):
                guard index + 2 < text.endIndex,
                    let high = hexValue(text[index + 1]), let low = hexValue(text[index + 2])
                else { return nil }
                bytes.append(high << 4 | low)
                index += 3
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
                index += 1
            default:
                bytes.append(byte)
                index += 1
            }
        }
        return bytes
    }

    /// A whole number written in decimal (an optional `-`, at most 19 digits); `nil` otherwise.
    static func number(_ text: ArraySlice<UInt8>) -> Int64? {
        var digits = text
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// An announce as a tracker reads it (BEP 3, BEP 23, BEP 7).
public struct AnnounceQuery: Sendable, Equatable {
    public var infoHash: InfoHash
    public var peerID: [UInt8]
    public var port: Int
    public var uploaded: Int64
    public var downloaded: Int64
    public var left: Int64
    public var event: AnnounceEvent?
    /// How many peers it asked for; `nil` when it did not say.
    public var numberWanted: Int?
    /// Whether it asked for the compact form (BEP 23); `true` unless it sent `compact=0`.
    public var compact: Bool
    /// The address it says it has (`ip=`), which a tracker uses only when told to.
    public var claimedAddress: String?

    public init(
        infoHash: InfoHash, peerID: [UInt8], port: Int, uploaded: Int64, downloaded: Int64, left: Int64, event: AnnounceEvent?,
        numberWanted: Int?, compact: Bool = true, claimedAddress: String? = nil
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numberWanted = numberWanted
        self.compact = compact
        self.claimedAddress = claimedAddress
    }

    /// Reads `GET /announce?<query>`; throws a message for the `failure reason`. The first of
    /// a repeated key counts, as in most trackers.
    public init(query: ArraySlice<UInt8>) throws(TrackerQueryError) {
        var fields = [ArraySlice<UInt8>?](repeating: nil, count: Field.allCases.count)
        try TrackerQuery.forEachPair(query) { name, value throws(TrackerQueryError) in
            guard let field = Field(name), fields[field.rawValue] == nil else { return }
            fields[field.rawValue] = value
        }
        func text(_ field: Field) throws(TrackerQueryError) -> [UInt8]? {
            guard let value = fields[field.rawValue] else { return nil }
            guard let decoded = TrackerQuery.decode(value) else { throw .init("\(field.name) has a bad %-escape") }
            return decoded
        }
        func number(_ field: Field) throws(TrackerQueryError) -> Int64? {
            guard let value = fields[field.rawValue] else { return nil }
            guard let number = TrackerQuery.number(value) else { throw .init("\(field.name) is not a whole number") }
            return number
        }
        guard let hash = try text(.infoHash) else { throw .init("missing info_hash") }
        guard let infoHash = InfoHash(bytes: hash) else { throw .init("info_hash is \(hash.count) bytes, not 20") }
        guard let peerID = try text(.peerID) else { throw .init("missing peer_id") }
        guard peerID.count == 20 else { throw .init("peer_id is \(peerID.count) bytes, not 20") }
        guard let port = try number(.port) else { throw .init("missing port") }
        guard (1...65535).contains(port) else { throw .init("port \(port) is not a port (1-65535)") }
        // Some clients leave out uploaded and downloaded; left tells seeders from leechers.
        guard let left = try number(.left) else { throw .init("missing left") }
        let (uploaded, downloaded) = (try number(.uploaded) ?? 0, try number(.downloaded) ?? 0)
        for (field, amount) in [(Field.uploaded, uploaded), (.downloaded, downloaded), (.left, left)] where amount < 0 {
            throw .init("\(field.name) \(amount) is negative")
        }
        var event: AnnounceEvent?
        if let name = try text(.event), !name.isEmpty, name != Array("empty".utf8) {
            guard let known = AnnounceEvent(rawValue: String(decoding: name, as: UTF8.self)) else {
                throw .init("event \"\(String(decoding: name.prefix(20), as: UTF8.self))\" is not started, completed or stopped")
            }
            event = known
        }
        let wanted = try number(.numberWanted)
        self.init(
            infoHash: infoHash, peerID: peerID, port: Int(port), uploaded: uploaded, downloaded: downloaded, left: left, event: event,
            numberWanted: wanted.map { $0 < 0 ? nil : Int(clamping: $0) } ?? nil, compact: fields[Field.compact.rawValue].map { !$0.elementsEqual([UInt8(ascii: "0")]) } ?? true,
            claimedAddress: try text(.ip).map { String(decoding: $0, as: UTF8.self) })
    }

    /// The keys an announce is read for.
    private enum Field: Int, CaseIterable {
        case infoHash, peerID, port, uploaded, downloaded, left, event, numberWanted, compact, ip

        var name: String {
            switch self {
            case .infoHash: "info_hash"
            case .peerID: "peer_id"
            case .port: "port"
            case .uploaded: "uploaded"
            case .downloaded: "downloaded"
            case .left: "left"
            case .event: "event"
            case .numberWanted: "numwant"
            case .compact: "compact"
            case .ip: "ip"
            }
        }

        private static let names = Field.allCases.map { Array($0.name.utf8) }

        init?(_ bytes: ArraySlice<UInt8>) {
            guard let index = Self.names.firstIndex(where: { $0.elementsEqual(bytes) }) else { return nil }
            self.init(rawValue: index)
        }
    }
}

/// A scrape as a tracker reads it (BEP 48): the info-hashes asked about.
public struct ScrapeQuery: Sendable, Equatable {
    public var infoHashes: [InfoHash]

    /// Reads `GET /scrape?<query>`, refusing more than `limit` hashes.
    public init(query: ArraySlice<UInt8>, limit: Int) throws(TrackerQueryError) {
        var hashes: [InfoHash] = []
        let key = Array("info_hash".utf8)
        try TrackerQuery.forEachPair(query) { name, value throws(TrackerQueryError) in
            guard name.elementsEqual(key) else { return }
            guard let bytes = TrackerQuery.decode(value) else { throw .init("info_hash has a bad %-escape") }
            guard let hash = InfoHash(bytes: bytes) else { throw .init("info_hash is \(bytes.count) bytes, not 20") }
            hashes.append(hash)
            guard hashes.count <= limit else { throw .init("more than \(limit) info_hash values in one scrape") }
        }
        guard !hashes.isEmpty else { throw .init("a scrape needs at least one info_hash") }
        infoHashes = hashes
    }
}

/// Why a tracker refuses an announce or scrape: the text of its `failure reason`.
public struct TrackerQueryError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
