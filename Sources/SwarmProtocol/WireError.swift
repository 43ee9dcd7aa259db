/// Why bytes from the network were refused. Each case closes the one connection that sent them.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message starts with a verb this receiver does not accept.
    case unknownVerb(String)
    /// The verb is known but its fields are wrong; `reason` says which.
    case malformed(verb: WireVerb, text: String, reason: String)
    /// More than `limit` bytes arrived without forming a message.
    case tooLong(limit: Int)

    public var description: String {
        switch self {
        case .unknownVerb(let text):
            return "unknown message \"\(text.prefix(40).wireVisible)\""
        case .malformed(let verb, let text, let reason):
            return "bad \(verb.rawValue) message \"\(text.prefix(120).wireVisible)\": \(reason)"
        case .tooLong(let limit):
            return "message longer than \(limit) bytes"
        }
    }
}

extension StringProtocol {
    /// The text with control characters shown as escapes, so a log line stays one line.
    var wireVisible: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: out += "\\x" + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
