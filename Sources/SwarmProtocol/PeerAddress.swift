/// Where a peer serves its chunks: a host (IPv4, IPv6 or a host name such as `localhost`) and a TCP port.
///
/// Seed-era peers register `localhost` rather than an address, so names are as valid as addresses;
/// anything else (commas, spaces, empty labels) is refused because it could not be dialled and
/// would corrupt the comma-separated answers the tracker sends.
///
/// ```swift
/// PeerAddress(host: "localhost", port: "6001")  // localhost:6001
/// PeerAddress(host: "bad host", port: "6001")   // nil
/// ```
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The host exactly as registered (trimmed).
    public let host: String
    /// The TCP port, 1–65535.
    public let port: Int

    /// Validates a host and a port given as wire text.
    public init?<H: StringProtocol, P: StringProtocol>(host: H, port: P) {
        let portText = port.trimmingWireWhitespace()
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(portText)
        else { return nil }
        self.init(host: String(host.trimmingWireWhitespace()), port: number)
    }

    /// Validates a host and a numeric port.
    public init?(host: String, port: Int) {
        guard Self.isValidPort(port), Self.isValidHost(host) else { return nil }
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, with IPv6 hosts in brackets (`[::1]:5100`).
    public init?(parsing text: String) {
        let trimmed = text.trimmingWireWhitespace()
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            let host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            self.init(host: host, port: rest.dropFirst())
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else { return nil }
            self.init(host: trimmed[..<colon], port: trimmed[trimmed.index(after: colon)...])
        }
    }

    /// Whether `port` is a usable TCP port.
    public static func isValidPort(_ port: Int) -> Bool { (1...65535).contains(port) }

    /// Whether `host` is an IPv4 address, an IPv6 address or an RFC 1123 host name.
    public static func isValidHost(_ host: String) -> Bool {
        let bytes = host.utf8
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        if bytes.contains(UInt8(ascii: ":")) {
            return bytes.allSatisfy { byte in
                byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || byte.isASCIIHexDigit
            } && bytes.count >= 2
        }
        let hyphen = UInt8(ascii: "-")
        return bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != hyphen && label.last != hyphen
                && label.allSatisfy { $0.isASCIIAlphanumeric || $0 == hyphen }
        }
    }

    /// Whether `host` names this machine through loopback: `localhost`, `127.x.x.x` or `::1`.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    /// Whether `host` stands for every local address, as a listener's host: `::` or `0.0.0.0`.
    public static func isEveryAddress(_ host: String) -> Bool {
        host == "::" || host == "0.0.0.0"
    }

    /// `host:port`, with IPv6 hosts bracketed.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
