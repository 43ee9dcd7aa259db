import Crypto

/// A `.torrent` file (BEP 3), checked whole before anything is done with it: what content it
/// describes, how that content is cut into pieces and their SHA-1s, and where to announce.
///
/// Every file path is checked to be relative and free of `..`, `.` and empty components, so
/// joining it under a download folder cannot leave that folder by name (symlinks are the
/// storage's to check). Lengths must add up: as many piece hashes as the total length needs.
public struct Metainfo: Sendable {
    /// One file of the content, in torrent order.
    public struct File: Sendable, Equatable {
        /// Path components under the torrent's folder (just the name for a single-file torrent).
        public var path: [String]
        /// Bytes in the file.
        public var length: Int64
        /// Where the file starts in the content taken as one stream.
        public var offset: Int64
    }

    /// The SHA-1 of the raw `info` bytes.
    public let infoHash: InfoHash
    /// The suggested name: the file's for a single-file torrent, the folder's otherwise.
    public let name: String
    /// Bytes per piece (the last piece may be shorter).
    public let pieceLength: Int
    /// The pieces' SHA-1s, 20 bytes each, in order.
    public let pieceHashes: [[UInt8]]
    /// The content's files, in order.
    public let files: [File]
    /// Whether the content is a folder of files (`files`) rather than one file (`length`).
    public let isMultiFile: Bool
    /// Tracker URLs by tier (BEP 12), `announce-list` when present, else `[[announce]]`.
    public let announceTiers: [[String]]
    /// BEP 27: peers come only from the trackers.
    public let isPrivate: Bool
    /// The `info` dictionary's bytes as they are in the torrent.
    public let rawInfo: [UInt8]

    /// Total bytes of content.
    public var totalLength: Int64 { files.last.map { $0.offset + $0.length } ?? 0 }

    /// The number of pieces.
    public var pieceCount: Int { pieceHashes.count }

    /// Bytes in piece `index`: ``pieceLength``, or what is left for the last.
    public func length(ofPiece index: Int) -> Int {
        let start = Int64(index) * Int64(pieceLength)
        return Int(min(Int64(pieceLength), totalLength - start))
    }

    /// The largest piece length accepted: libtorrent refuses larger ones too.
    public static let maximumPieceLength = 128 << 20

    /// Reads and checks a torrent file's bytes.
    public init(parsing bytes: [UInt8]) throws(MetainfoError) {
        let document: (value: Bencode, ranges: [String: Range<Int>])
        do {
            document = try Bencode.decodeDictionaryWithRanges(bytes)
        } catch {
            throw .notBencode(error)
        }
        let root = document.value
        guard case .dictionary = root else { throw .wrongType("the torrent", expected: "a dictionary") }
        guard let info = root["info"], let infoRange = document.ranges["info"] else { throw .missingKey("info") }
        guard case .dictionary = info else { throw .wrongType("info", expected: "a dictionary") }
        rawInfo = Array(bytes[infoRange])
        infoHash = InfoHash(bytes: Array(Insecure.SHA1.hash(data: rawInfo)))!

        name = try Self.pathComponent(info["name"], key: "info.name")
        guard let pieceLength = try Self.integer(info["piece length"], key: "info.piece length"), pieceLength > 0 else {
            throw .invalid("info.piece length must be a positive number of bytes")
        }
        guard pieceLength <= Self.maximumPieceLength else {
            throw .invalid("info.piece length \(pieceLength) is over the largest accepted (\(Self.maximumPieceLength) bytes)")
        }
        self.pieceLength = Int(pieceLength)
        guard let pieces = info["pieces"] else {
            if info["meta version"]?.integer == 2 { throw .invalid("a BitTorrent v2-only torrent (no info.pieces): not supported") }
            throw .missingKey("info.pieces")
        }
        guard let hashes = pieces.bytes else { throw .wrongType("info.pieces", expected: "a byte string") }
        guard hashes.count % 20 == 0 else {
            throw .invalid("info.pieces is \(hashes.count) bytes, not a multiple of 20 (one SHA-1 per piece)")
        }
        pieceHashes = stride(from: 0, to: hashes.count, by: 20).map { Array(hashes[$0..<$0 + 20]) }

        var files: [File] = []
        var offset: Int64 = 0
        switch (info["length"], info["files"]) {
        case (.some, .some):
            throw .invalid("info has both length and files: a torrent is one file or a folder, not both")
        case (.none, .none):
            throw .missingKey("info.length or info.files")
        case (let length?, nil):
            guard let value = length.integer else { throw .wrongType("info.length", expected: "an integer") }
            guard value >= 0 else { throw .invalid("info.length is negative (\(value))") }
            files.append(File(path: [name], length: value, offset: 0))
            offset = value
            isMultiFile = false
        case (nil, let list?):
            guard let entries = list.list else { throw .wrongType("info.files", expected: "a list") }
            guard !entries.isEmpty else { throw .invalid("info.files is empty") }
            var seen = Set<[String]>()
            for (position, entry) in entries.enumerated() {
                let key = "info.files[\(position)]"
                guard case .dictionary = entry else { throw .wrongType(key, expected: "a dictionary") }
                guard let length = try Self.integer(entry["length"], key: "\(key).length") else { throw .missingKey("\(key).length") }
                guard length >= 0 else { throw .invalid("\(key).length is negative (\(length))") }
                guard let pathValue = entry["path"] else { throw .missingKey("\(key).path") }
                guard let parts = pathValue.list else { throw .wrongType("\(key).path", expected: "a list of strings") }
                guard !parts.isEmpty else { throw .invalid("\(key).path is empty") }
                let path = try parts.enumerated().map { (index, part) throws(MetainfoError) in
                    try Self.pathComponent(part, key: "\(key).path[\(index)]")
                }
                guard seen.insert(path).inserted else { throw .invalid("\(key).path \(path.joined(separator: "/")) is listed twice") }
                let (sum, overflow) = offset.addingReportingOverflow(length)
                guard !overflow else { throw .invalid("the files' lengths add up to more than 2^63 bytes") }
                files.append(File(path: path, length: length, offset: offset))
                offset = sum
            }
            isMultiFile = true
        }
        self.files = files
        guard offset > 0 else { throw .invalid("the torrent's content is empty (0 bytes)") }
        let needed = (offset + pieceLength - 1) / pieceLength
        guard Int64(pieceHashes.count) == needed else {
            throw .invalid("info.pieces holds \(pieceHashes.count) piece hashes, but \(offset) bytes in pieces of \(pieceLength) need \(needed)")
        }

        isPrivate = info["private"]?.integer == 1
        var tiers: [[String]] = []
        if let list = root["announce-list"] {
            guard let tierValues = list.list else { throw .wrongType("announce-list", expected: "a list of lists") }
            for (position, tier) in tierValues.enumerated() {
                guard let urls = tier.list else { throw .wrongType("announce-list[\(position)]", expected: "a list of URLs") }
                let texts = urls.compactMap(\.text).filter { !$0.isEmpty }
                if !texts.isEmpty { tiers.append(texts) }
            }
        }
        if tiers.isEmpty, let announce = root["announce"] {
            guard let url = announce.text else { throw .wrongType("announce", expected: "a URL") }
            if !url.isEmpty { tiers = [[url]] }
        }
        announceTiers = tiers
    }

    private static func integer(_ value: Bencode?, key: String) throws(MetainfoError) -> Int64? {
        guard let value else { return nil }
        guard let number = value.integer else { throw .wrongType(key, expected: "an integer") }
        return number
    }

    /// A file or folder name that stays where it is put: UTF-8, not empty, not `.` or `..`, no
    /// `/`, `\` or NUL, not absolute.
    private static func pathComponent(_ value: Bencode?, key: String) throws(MetainfoError) -> String {
        guard let value else { throw .missingKey(key) }
        guard let text = value.text else { throw .wrongType(key, expected: "a UTF-8 string") }
        guard !text.isEmpty else { throw .unsafePath(key, text, reason: "an empty component") }
        guard text != ".", text != ".." else { throw .unsafePath(key, text, reason: "a \(text) component") }
        guard !text.contains("/"), !text.contains("\\") else { throw .unsafePath(key, text, reason: "a path separator (an absolute or nested path)") }
        guard !text.unicodeScalars.contains("\0") else { throw .unsafePath(key, text, reason: "a NUL byte") }
        return text
    }
}

/// Why a torrent cannot be used. Each says what is wrong and where.
public enum MetainfoError: Error, Equatable, CustomStringConvertible {
    case notBencode(BencodeError)
    case missingKey(String)
    case wrongType(String, expected: String)
    case unsafePath(String, String, reason: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notBencode(let error): return "\(error)"
        case .missingKey(let key): return "missing key \(key)"
        case .wrongType(let key, let expected): return "\(key) is not \(expected)"
        case .unsafePath(let key, let text, let reason): return "\(key) \"\(text)\" is not a safe path: \(reason)"
        case .invalid(let text): return text
        }
    }
}
