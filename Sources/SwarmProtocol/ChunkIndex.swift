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
    public func trimmingWireWhitespace() -> Substring {
        let isPadding: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        let view = Substring(self)
        guard let first = view.firstIndex(where: { !isPadding($0) }),
            let last = view.lastIndex(where: { !isPadding($0) })
        else { return view[view.endIndex...] }
        return view[first...last]
    }
}
