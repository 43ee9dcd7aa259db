/// The 1-based position of a chunk in the shared file.
///
/// The seed numbers chunks from 1 to N, where N is the `N,LASTCHUNK` total, so 0 and negative
/// numbers are never valid; an upper bound keeps hostile input from overflowing arithmetic.
///
/// ```swift
/// ChunkIndex(parsing: " 3 ")   // ChunkIndex(3)
/// ChunkIndex(parsing: "0")     // nil
/// ```
public struct ChunkIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The largest index any message or folder may name.
    public static let maximum = 1 << 31 - 1

    /// The index as a plain integer, at least 1.
    public let value: Int

    /// Wraps an integer known to be in `1...maximum`.
    public init(_ value: Int) {
        precondition((1...Self.maximum).contains(value), "chunk index \(value) is out of range")
        self.value = value
    }

    /// Parses decimal digits, ignoring surrounding whitespace; `nil` for anything else or out of range.
    public init?<S: StringProtocol>(parsing text: S) {
        let digits = text.trimmingWireWhitespace()
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(digits), (1...Self.maximum).contains(value)
        else { return nil }
        self.value = value
    }

    public static func < (lhs: ChunkIndex, rhs: ChunkIndex) -> Bool { lhs.value < rhs.value }

    public var description: String { String(value) }
}

extension StringProtocol {
    /// The text without the spaces, tabs, CRs and LFs that seed-era peers leave around fields.
    /// Looks at UTF-8 bytes, not `Character`s: every one of them is a single ASCII byte, and the
    /// tracker and the clients trim every field of every message.
    public func trimmingWireWhitespace() -> Substring {
        let view = Substring(self)
        let bytes = view.utf8
        guard let first = bytes.firstIndex(where: { !$0.isWirePadding }),
            let last = bytes.lastIndex(where: { !$0.isWirePadding })
        else { return view[view.endIndex...] }
        return view[first..<bytes.index(after: last)]
    }
}
