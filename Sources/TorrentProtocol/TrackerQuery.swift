/// A tracker's side of an HTTP announce or scrape: the query string of `GET /announce?…` or
/// `GET /scrape?…`, read and checked, with a message naming the problem for anything wrong.
public enum TrackerQuery {
    /// The `name=value` pairs of a query string, percent-decoded (`+` is a space, as browsers
    /// send it; BitTorrent clients send `%XX` for every binary byte). `nil` for a bad `%` escape.
    public static func pairs(_ query: some Collection<UInt8>) -> [(name: [UInt8], value: [UInt8])]? {
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for part in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = part.firstIndex(of: UInt8(ascii: "=")) ?? part.endIndex
            guard let name = decode(part[part.startIndex..<equals]),
                let value = decode(equals == part.endIndex ? part[equals...] : part[part.index(after: equals)...])
            else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// Percent-decodes `text`; `nil` for a `%` not followed by two hexadecimal digits.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index != text.endIndex {
            let byte = text[index]
            index = text.index(after: index)
            switch byte {
            case UInt8(ascii: "%"):
                guard index != text.endIndex, let high = hexValue(text[index]) else { return nil }
                index = text.index(after: index)
                guard index != text.endIndex, let low = hexValue(text[index]) else { return nil }
                index = text.index(after: index)
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return bytes
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

    /// Reads `GET /announce?<query>`; throws a message for the `failure reason`.
    public init(query: some Collection<UInt8>) throws(TrackerQueryError) {
        guard let pairs = TrackerQuery.pairs(query) else { throw .init("the query has a bad %-escape") }
        var values: [String: [UInt8]] = [:]
        for (name, value) in pairs {
            // The first of a repeated key counts, as in most trackers.
            let key = String(decoding: name, as: UTF8.self)
            if values[key] == nil { values[key] = value }
        }
        func required(_ key: String) throws(TrackerQueryError) -> [UInt8] {
            guard let value = values[key] else { throw .init("missing \(key)") }
            return value
        }
        func number(_ key: String, _ value: [UInt8]) throws(TrackerQueryError) -> Int64 {
            guard !value.isEmpty, value.count <= 20, let number = Int64(String(decoding: value, as: UTF8.self)) else {
                throw .init("\(key) is not a whole number")
            }
            return number
        }
        let hash = try required("info_hash")
        guard let infoHash = InfoHash(bytes: hash) else { throw .init("info_hash is \(hash.count) bytes, not 20") }
        let peerID = try required("peer_id")
        guard peerID.count == 20 else { throw .init("peer_id is \(peerID.count) bytes, not 20") }
        let port = try number("port", try required("port"))
        guard (1...65535).contains(port) else { throw .init("port \(port) is not a port (1-65535)") }
        var amounts: [Int64] = []
        for key in ["uploaded", "downloaded", "left"] {
            // Some clients leave out uploaded and downloaded; left tells seeders from leechers.
            guard let value = values[key] else {
                if key == "left" { throw .init("missing left") }
                amounts.append(0)
                continue
            }
            let amount = try number(key, value)
            guard amount >= 0 else { throw .init("\(key) \(amount) is negative") }
            amounts.append(amount)
        }
        var event: AnnounceEvent?
        if let text = values["event"], !text.isEmpty, text != Array("empty".utf8) {
            guard let known = AnnounceEvent(rawValue: String(decoding: text, as: UTF8.self)) else {
                throw .init("event \"\(String(decoding: text.prefix(20), as: UTF8.self))\" is not started, completed or stopped")
            }
            event = known
        }
        var wanted: Int?
        if let value = values["numwant"] {
            let number = try number("numwant", value)
            wanted = number < 0 ? nil : Int(number)
        }
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = Int(port)
        (uploaded, downloaded, left) = (amounts[0], amounts[1], amounts[2])
        self.event = event
        numberWanted = wanted
        compact = values["compact"] != Array("0".utf8)
        claimedAddress = values["ip"].map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A scrape as a tracker reads it (BEP 48): the info-hashes asked about.
public struct ScrapeQuery: Sendable, Equatable {
    public var infoHashes: [InfoHash]

    /// Reads `GET /scrape?<query>`, refusing more than `limit` hashes.
    public init(query: some Collection<UInt8>, limit: Int) throws(TrackerQueryError) {
        guard let pairs = TrackerQuery.pairs(query) else { throw .init("the query has a bad %-escape") }
        var hashes: [InfoHash] = []
        for (name, value) in pairs where name == Array("info_hash".utf8) {
            guard let hash = InfoHash(bytes: value) else { throw .init("info_hash is \(value.count) bytes, not 20") }
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
