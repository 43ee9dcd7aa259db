/// A SHA-1 digest as the wire carries it: 40 lowercase hexadecimal digits.
///
/// The protocol layer only checks the form; computing digests is the engine's job.
///
/// ```swift
/// SHA1Digest(hex: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709")?.hex  // "da39a3ee…0709"
/// SHA1Digest(hex: "xyz")                                          // nil
/// ```
public struct SHA1Digest: Hashable, Sendable, CustomStringConvertible {
    /// The digest of zero bytes, which every empty chunk has.
    public static let empty = SHA1Digest(hex: "da39a3ee5e6b4b0d3255bfef95601890afd80709")!

    /// The 40 lowercase hex digits.
    public let hex: String

    /// Accepts exactly 40 hex digits in either case, ignoring surrounding whitespace.
    public init?<S: StringProtocol>(hex text: S) {
        let trimmed = text.trimmingWireWhitespace()
        guard trimmed.utf8.count == 40, trimmed.utf8.allSatisfy({ $0.isASCIIHexDigit }) else { return nil }
        self.hex = trimmed.lowercased()
    }

    /// Builds the digest from its 20 raw bytes.
    public init<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(40)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        precondition(text.count == 40, "a SHA-1 digest has 20 bytes")
        self.hex = String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }
}
