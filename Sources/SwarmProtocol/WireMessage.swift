import NIOCore

/// A message of the classic text protocol: comma-separated fields, verb first.
///
/// Conforming enums parse one framed message and encode themselves as one write. Parsing strips
/// every field, because seed-era trackers echo the stray newlines their clients sent.
public protocol WireMessage: Sendable {
    /// The verbs this message type accepts; any other verb is ``WireError/unknownVerb(_:)``.
    static var verbs: [WireVerb] { get }

    /// Parses one framed message (without its terminator).
    init(parsing frame: String) throws(WireError)

    /// The message's text without a terminator, e.g. `WHERE_CHUNK,3`.
    var wireText: String { get }
}

extension WireMessage {
    /// Appends the message: its exact bytes, then `\n` only when `terminated` (the fast path with our tracker).
    public func encode(into buffer: inout ByteBuffer, terminated: Bool) {
        buffer.writeString(wireText)
        if terminated { buffer.writeInteger(UInt8(ascii: "\n")) }
    }

    /// The message as one buffer, ready to be one write.
    public func encoded(terminated: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer, terminated: terminated)
        return buffer
    }
}

/// The fields of one message, verb split off, each stripped of wire padding.
struct WireFields {
    let verb: WireVerb
    let fields: [Substring]
    let text: String

    /// Splits `frame` on commas and checks that its verb is one of `accepted`.
    init(_ frame: String, accepted: [WireVerb]) throws(WireError) {
        // Split on bytes: a comma is one, and splitting by `Character` cost several times as
        // much (a client reads an answer for every chunk it fetches).
        var parts = frame.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { Substring($0).trimmingWireWhitespace() }
        // Seed-era trackers may leave a trailing comma or stray newline field.
        while let last = parts.last, last.isEmpty, parts.count > 1 { parts.removeLast() }
        let verbText = parts.first.map(String.init) ?? ""
        guard let verb = WireVerb(rawValue: verbText), accepted.contains(verb) else {
            throw .unknownVerb(frame)
        }
        self.verb = verb
        self.fields = Array(parts.dropFirst())
        self.text = frame
    }

    func malformed(_ reason: String) -> WireError { .malformed(verb: verb, text: text, reason: reason) }

    /// Requires exactly `count` fields after the verb.
    func expect(count: Int) throws(WireError) {
        guard fields.count == count else {
            throw malformed("expected \(count) field\(count == 1 ? "" : "s") after the verb, got \(fields.count)")
        }
    }

    func index(at position: Int) throws(WireError) -> ChunkIndex {
        guard let index = ChunkIndex(parsing: fields[position]) else {
            throw malformed("chunk index \"\(fields[position])\" is not a number from 1 to \(ChunkIndex.maximum)")
        }
        return index
    }

    func digest(at position: Int) throws(WireError) -> SHA1Digest {
        guard let digest = SHA1Digest(hex: fields[position]) else {
            throw malformed("\"\(fields[position])\" is not a SHA-1 of 40 hex digits")
        }
        return digest
    }

    func address(hostAt position: Int) throws(WireError) -> PeerAddress {
        let host = fields[position]
        let port = fields[position + 1]
        guard PeerAddress.isValidHost(String(host)) else {
            throw malformed("holder \"\(host)\" is neither an IP address nor a host name")
        }
        guard let address = PeerAddress(host: host, port: port) else {
            throw malformed("port \"\(port)\" is not a number from 1 to 65535")
        }
        return address
    }
}
