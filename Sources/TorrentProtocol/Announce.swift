/// Where a peer may be reached, as a tracker lists it.
public struct PeerEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address in text form (or a host name, from a non-compact answer).
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What happened that an announce reports (BEP 3).
public enum AnnounceEvent: String, Sendable {
    case started, completed, stopped
}

/// One HTTP announce (BEP 3, BEP 23's `compact=1`).
public struct AnnounceRequest: Sendable {
    public var infoHash: InfoHash
    public var peerID: [UInt8]
    public var port: Int
    public var uploaded: Int64
    public var downloaded: Int64
    public var left: Int64
    public var event: AnnounceEvent?
    public var numberWanted: Int

    public init(
        infoHash: InfoHash, peerID: [UInt8], port: Int, uploaded: Int64, downloaded: Int64, left: Int64,
        event: AnnounceEvent?, numberWanted: Int = 50
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numberWanted = numberWanted
    }

    /// The announce URL: `base` with the query added (after `&` when it already has one).
    /// Every byte of the info-hash and peer id is sent as `%XX`, never `+`.
    public func url(base: String) -> String {
        var query = [
            "info_hash=" + Self.percentEncoded(infoHash.bytes),
            "peer_id=" + Self.percentEncoded(peerID),
            "port=\(port)",
            "uploaded=\(uploaded)",
            "downloaded=\(downloaded)",
            "left=\(left)",
            "compact=1",
            "numwant=\(numberWanted)",
        ]
        if let event { query.append("event=\(event.rawValue)") }
        return base + (base.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    /// `%XX` for every byte.
    public static func percentEncoded(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            text.append(UInt8(ascii: "%"))
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A tracker's answer to an announce.
public struct AnnounceResponse: Sendable, Equatable {
    /// Seconds until the next regular announce.
    public var interval: Int
    /// Seconds before which the tracker wants no announce, if it says.
    public var minimumInterval: Int?
    /// Peers with the whole content, if the tracker says.
    public var complete: Int?
    /// Peers still downloading, if the tracker says.
    public var incomplete: Int?
    /// The peers, IPv4 (`peers`) and IPv6 (`peers6`, BEP 7) together.
    public var peers: [PeerEndpoint]
    /// A tracker's `warning message`, if any.
    public var warning: String?

    public init(interval: Int, minimumInterval: Int? = nil, complete: Int? = nil, incomplete: Int? = nil, peers: [PeerEndpoint], warning: String? = nil) {
        self.interval = interval
        self.minimumInterval = minimumInterval
        self.complete = complete
        self.incomplete = incomplete
        self.peers = peers
        self.warning = warning
    }

    /// Reads an answer's body.
    ///
    /// - Throws: ``AnnounceError/failure(_:retryIn:)`` with the tracker's own words when it
    ///   refused; ``AnnounceError/malformed(_:)`` when the body is not a valid answer.
    public init(parsing body: [UInt8]) throws(AnnounceError) {
        let value: Bencode
        do {
            value = try Bencode.decode(body, requireSortedKeys: false)
        } catch {
            throw .malformed("\(error)")
        }
        guard case .dictionary = value else { throw .malformed("the answer is not a dictionary") }
        if let reason = value["failure reason"] {
            throw .failure(reason.text ?? "(unreadable reason)", retryIn: value["interval"]?.integer.map { Int(clamping: $0) })
        }
        guard let interval = value["interval"]?.integer, interval >= 0 else { throw .malformed("no interval") }
        self.interval = Int(clamping: interval)
        minimumInterval = value["min interval"]?.integer.map { Int(clamping: $0) }
        complete = value["complete"]?.integer.map { Int(clamping: $0) }
        incomplete = value["incomplete"]?.integer.map { Int(clamping: $0) }
        warning = value["warning message"]?.text
        var peers: [PeerEndpoint] = []
        switch value["peers"] {
        case .bytes(let compact)?:
            guard compact.count % 6 == 0 else { throw .malformed("compact peers of \(compact.count) bytes, not a multiple of 6") }
            for start in stride(from: 0, to: compact.count, by: 6) {
                let host = compact[start..<start + 4].map(String.init).joined(separator: ".")
                peers.append(PeerEndpoint(host: host, port: Int(compact[start + 4]) << 8 | Int(compact[start + 5])))
            }
        case .list(let entries)?:
            for entry in entries {
                guard let host = entry["ip"]?.text, let port = entry["port"]?.integer, (1...65535).contains(port) else { continue }
                peers.append(PeerEndpoint(host: host, port: Int(port)))
            }
        case nil:
            break
        default:
            throw .malformed("peers is neither a string nor a list")
        }
        if let compact6 = value["peers6"]?.bytes {
            guard compact6.count % 18 == 0 else { throw .malformed("compact peers6 of \(compact6.count) bytes, not a multiple of 18") }
            for start in stride(from: 0, to: compact6.count, by: 18) {
                let groups = stride(from: start, to: start + 16, by: 2).map { String(Int(compact6[$0]) << 8 | Int(compact6[$0 + 1]), radix: 16) }
                let port = Int(compact6[start + 16]) << 8 | Int(compact6[start + 17])
                peers.append(PeerEndpoint(host: groups.joined(separator: ":"), port: port))
            }
        }
        self.peers = peers.filter { $0.port > 0 }
    }
}

/// Why an announce gave no peers.
public enum AnnounceError: Error, Equatable, CustomStringConvertible {
    /// The tracker refused, in its own words; `retryIn` is the interval it asked for, if any.
    case failure(String, retryIn: Int?)
    /// The answer could not be read.
    case malformed(String)
    /// A UDP tracker did not answer, however often asked.
    case noAnswer(String)

    public var description: String {
        switch self {
        case .failure(let reason, _): return "tracker says: \(reason)"
        case .malformed(let reason): return "unreadable tracker answer: \(reason)"
        case .noAnswer(let reason): return "no answer: \(reason)"
        }
    }
}
