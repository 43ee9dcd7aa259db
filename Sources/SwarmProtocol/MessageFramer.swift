import NIOCore

/// Cuts a byte stream into messages the way seed-era peers send them: sometimes with `\n`, often
/// with nothing at all, sometimes two glued together.
///
/// A message ends
/// - at `\n` (for answers, only a `\n` after a whole message and before the next one or the end of
///   what arrived, since seed-era trackers echo stray newlines in the middle of an answer),
/// - where the next known verb begins,
/// - at end of stream,
/// - or, when none of these comes, once the bytes so far form a whole message and the sender has
///   paused (the caller tells the framer so with `senderPaused`).
///
/// ```swift
/// var framer = MessageFramer(newlines: .alwaysEnd)
/// var bytes = ByteBuffer(string: "WHERE_CHUNK,1WHERE_CHUNK,2\n")
/// try framer.nextFrame(in: &bytes, isWhole: { _ in true })?.text  // "WHERE_CHUNK,1"
/// try framer.nextFrame(in: &bytes, isWhole: { _ in true })?.text  // "WHERE_CHUNK,2"
/// ```
public struct MessageFramer: Sendable {
    /// How a `\n` is read.
    public enum NewlinePolicy: Sendable {
        /// Every `\n` ends a message (requests, which our tracker and peers receive).
        case alwaysEnd
        /// A `\n` ends a message only if the bytes before it form a whole one (answers).
        case endWholeMessage
    }

    /// The default bound on one message: the seed reads 1024 bytes per message.
    public static let defaultMaximumLength = 1024

    /// Longest accepted message, in bytes.
    public let maximumLength: Int
    /// How `\n` is read.
    public let newlines: NewlinePolicy

    private static let verbPatterns = WireVerb.allCases.map(\.utf8Bytes)
    /// Indexed by byte: whether some verb begins with it.
    private static let verbInitials: [Bool] = (0...255).map { byte in verbPatterns.contains { $0.first == byte } }

    public init(newlines: NewlinePolicy, maximumLength: Int = MessageFramer.defaultMaximumLength) {
        self.newlines = newlines
        self.maximumLength = maximumLength
    }

    /// One message's text, cut from the stream.
    public struct Frame: Equatable, Sendable {
        /// The message without its terminator.
        public var text: String
        /// Whether a `\n` ended it: our own tracker terminates its answers, seed-era ones never do.
        public var terminated: Bool
    }

    /// Takes the next whole message off the front of `buffer`, or returns `nil` when more bytes are needed.
    ///
    /// - Parameters:
    ///   - atEndOfStream: the sender closed; whatever is left is the last message.
    ///   - senderPaused: no bytes came for a while; a whole message may end here.
    ///   - isWhole: whether some text is a complete message of the expected kind.
    /// - Throws: ``WireError/tooLong(limit:)`` or ``WireError/unknownVerb(_:)`` as soon as the bytes
    ///   cannot become a message.
    public func nextFrame(
        in buffer: inout ByteBuffer,
        atEndOfStream: Bool = false,
        senderPaused: Bool = false,
        isWhole: (String) -> Bool
    ) throws(WireError) -> Frame? {
        skipPadding(in: &buffer)
        guard buffer.readableBytes > 0 else { return nil }
        switch buffer.withUnsafeReadableBytes({ cut($0, isWhole: isWhole) }) {
        case .garbage(let head):
            throw .unknownVerb(head)
        case .end(let length, let terminated):
            guard length <= maximumLength else { throw .tooLong(limit: maximumLength) }
            let text = buffer.readString(length: length)!
            if terminated { buffer.moveReaderIndex(forwardBy: 1) }
            return Frame(text: text, terminated: terminated)
        case .open:
            let count = buffer.readableBytes
            guard count <= maximumLength else { throw .tooLong(limit: maximumLength) }
            let text = buffer.getString(at: buffer.readerIndex, length: count)!
            guard atEndOfStream || (senderPaused && isWhole(text)) else { return nil }
            buffer.moveReaderIndex(forwardBy: count)
            return Frame(text: text, terminated: false)
        }
    }

    /// Where the front message of some buffered bytes ends, as far as they tell.
    private enum Cut {
        /// The bytes cannot begin a message; the first of them, for the error.
        case garbage(String)
        /// The message is the first `length` bytes; `terminated` when a `\n` follows them.
        case end(length: Int, terminated: Bool)
        /// Nothing ends it yet.
        case open
    }

    /// Finds the end of the message at the front of `bytes` (one scan of at most
    /// ``maximumLength`` + 1 bytes, on the buffer's memory).
    private func cut(_ bytes: UnsafeRawBufferPointer, isWhole: (String) -> Bool) -> Cut {
        guard Self.startsPlausibly(bytes) else { return .garbage(Self.text(bytes.prefix(40))) }
        let window = bytes.prefix(maximumLength + 1)
        let nextVerb = Self.firstVerb(in: window)
        var searchFrom = window.startIndex
        while let found = window[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
            if let nextVerb, found > nextVerb { break }
            if newlines == .alwaysEnd || endsAnswer(window, newlineAt: found, isWhole: isWhole) {
                return .end(length: found, terminated: true)
            }
            searchFrom = found + 1
        }
        return nextVerb.map { .end(length: $0, terminated: false) } ?? .open
    }

    /// Whether the `\n` at `position` ends an answer: what precedes it is whole, and what follows is
    /// nothing yet or the next message. Seed-era trackers echo stray newlines mid-answer
    /// (`…,6001\n,localhost,6002`), and those must not cut it.
    private func endsAnswer(_ window: Slice<UnsafeRawBufferPointer>, newlineAt position: Int, isWhole: (String) -> Bool) -> Bool {
        let rest = window[(position + 1)...].drop(while: \.isWirePadding)
        let nextIsMessage = rest.isEmpty || Self.verbPatterns.contains { rest.starts(with: $0) }
        return nextIsMessage && isWhole(Self.text(window[window.startIndex..<position]))
    }

    private func skipPadding(in buffer: inout ByteBuffer) {
        let padding = buffer.withUnsafeReadableBytes { $0.prefix(while: \.isWirePadding).count }
        buffer.moveReaderIndex(forwardBy: padding)
    }

    /// Whether `bytes` start with (a prefix of) a known verb: garbage is refused early.
    private static func startsPlausibly(_ bytes: UnsafeRawBufferPointer) -> Bool {
        verbPatterns.contains { verb in
            let shared = min(verb.count, bytes.count)
            return bytes.prefix(shared).elementsEqual(verb.prefix(shared))
                && (bytes.count <= verb.count || !bytes[verb.count].isASCIIAlphanumeric)
        }
    }

    /// Where a known verb begins in `bytes` after their first byte, if anywhere: one pass,
    /// trying the verbs only at bytes that begin one.
    private static func firstVerb(in bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        var position = bytes.startIndex + 1
        while position < bytes.endIndex {
            if verbInitials[Int(bytes[position])], verbPatterns.contains(where: { bytes[position...].starts(with: $0) }) {
                return position
            }
            position += 1
        }
        return nil
    }

    private static func text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
