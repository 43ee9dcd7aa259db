/// The contents of `local_chunks.txt`: which chunks a folder holds, under which file names, and
/// how many chunks the whole file has.
///
/// ```
/// 1,chunk_1
/// 3,chunk_3
/// 4,LASTCHUNK      <- the total: chunks are 1…4, so 2 and 4 are missing
/// ```
///
/// Parsing is strict about meaning and lenient about form: CRLF, blank lines and spaces around
/// fields are fine; a bad index, a duplicate, a missing total or a name that leaves the folder are
/// refused with the line that says so. The writer always puts `N,LASTCHUNK` last.
public struct ChunkList: Equatable, Sendable {
    /// The name of the list inside every chunk folder.
    public static let fileName = "local_chunks.txt"
    private static let lastChunkMarker = "LASTCHUNK"

    /// The number of chunks in the whole file (indexes `1...total`).
    public let total: Int
    /// File name of each held chunk, relative to the folder.
    public private(set) var files: [ChunkIndex: String]

    /// A list with `total` chunks and the given held ones.
    public init(total: Int, files: [ChunkIndex: String] = [:]) {
        precondition(total >= 1 && files.keys.allSatisfy { $0.value <= total })
        self.total = total
        self.files = files
    }

    /// Parses the list's text; `file` names it in errors.
    public init(parsing text: String, file: String = ChunkList.fileName) throws(ChunkFolderError) {
        var files: [ChunkIndex: String] = [:]
        var lineOfIndex: [ChunkIndex: Int] = [:]
        var total: (value: Int, line: Int)? = nil
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })

        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let line = rawLine.trimmingWireWhitespace()
            if line.isEmpty { continue }
            func bad(_ reason: String) -> ChunkFolderError {
                .badLine(file: file, line: lineNumber, text: String(rawLine), reason: reason)
            }
            guard let comma = line.firstIndex(of: ",") else {
                throw bad("expected \"index,filename\"")
            }
            let indexText = line[..<comma].trimmingWireWhitespace()
            let name = line[line.index(after: comma)...].trimmingWireWhitespace()
            guard !indexText.isEmpty, indexText.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }),
                let number = Int(indexText)
            else {
                throw bad("chunk index \"\(indexText)\" is not a number")
            }
            if name == Self.lastChunkMarker {
                if let previous = total {
                    throw bad("a second LASTCHUNK line (the first is line \(previous.line))")
                }
                guard number >= 1, number <= ChunkIndex.maximum else {
                    throw bad("the total number of chunks must be at least 1, not \(number)")
                }
                total = (number, lineNumber)
                continue
            }
            guard number >= 1, number <= ChunkIndex.maximum else {
                throw bad("chunk index \(number) is below 1")
            }
            let index = ChunkIndex(number)
            if let first = lineOfIndex[index] {
                throw bad("chunk \(number) is listed twice (also on line \(first))")
            }
            if let reason = Self.problem(withName: name) { throw bad(reason) }
            files[index] = String(name)
            lineOfIndex[index] = lineNumber
        }

        guard let total else { throw .noLastChunk(file: file) }
        if let (index, line) = lineOfIndex.filter({ $0.key.value > total.value }).min(by: { $0.value < $1.value }) {
            throw .badLine(
                file: file,
                line: line,
                text: String(lines[line - 1]),
                reason: "chunk index \(index) is above the total of \(total.value) given by LASTCHUNK"
            )
        }
        self.total = total.value
        self.files = files
        self.lineNumbers = lineOfIndex
    }

    /// The line each chunk was listed on when parsed, for errors about its file.
    public private(set) var lineNumbers: [ChunkIndex: Int] = [:]

    /// Every index of the file, `1...total`.
    public var allIndexes: [ChunkIndex] { (1...total).map(ChunkIndex.init) }

    /// The indexes not held yet, ascending.
    public var missing: [ChunkIndex] { allIndexes.filter { files[$0] == nil } }

    /// Whether every chunk is held.
    public var isComplete: Bool { files.count == total }

    /// Records that chunk `index` is now held as `name`.
    public mutating func add(_ index: ChunkIndex, fileName name: String) {
        precondition(index.value <= total)
        files[index] = name
    }

    /// The list's text: one `index,filename` line per held chunk, ascending, then `N,LASTCHUNK`.
    ///
    /// A client rewrites it up to ten times a second while chunks arrive, so for a big file this
    /// is built as bytes, and a list at least a quarter full is laid out by index instead of
    /// sorted.
    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(files.count * 20 + 24)
        func appendLine(_ index: Int, _ name: String) {
            bytes.append(contentsOf: String(index).utf8)
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: name.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        if files.count >= total / 4 {
            var names = [String?](repeating: nil, count: total)
            for (index, name) in files { names[index.value - 1] = name }
            for (offset, name) in names.enumerated() {
                if let name { appendLine(offset + 1, name) }
            }
        } else {
            for (index, name) in files.sorted(by: { $0.key < $1.key }) { appendLine(index.value, name) }
        }
        bytes.append(contentsOf: "\(total),\(Self.lastChunkMarker)\n".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Why `name` may not be used as a chunk's file name, or `nil` when it is safe.
    ///
    /// Names come from a file a user (or anyone who can write the folder) edits, so they must never
    /// reach outside the folder.
    public static func problem<S: StringProtocol>(withName name: S) -> String? {
        if name.isEmpty { return "the file name is empty" }
        if name.hasPrefix("/") { return "file name \"\(name)\" is absolute; names are relative to the folder" }
        if name.contains("\0") { return "file name contains a NUL byte" }
        if name.split(separator: "/").contains(where: { $0 == ".." }) {
            return "file name \"\(name)\" leads outside the folder"
        }
        if name.split(separator: "/").allSatisfy({ $0 == "." }) {
            return "file name \"\(name)\" is the folder itself"
        }
        return nil
    }
}
