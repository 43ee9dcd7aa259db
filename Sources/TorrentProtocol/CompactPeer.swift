import NIOCore

/// A peer's address in the compact form trackers send (BEP 23, BEP 7): 4 address bytes and a
/// port for IPv4, 16 and a port for IPv6; IPv4-mapped IPv6 addresses count as IPv4.
public struct CompactPeer: Sendable, Hashable, CustomStringConvertible {
    /// The first 8 address bytes, big-endian (0 for IPv4).
    public let high: UInt64
    /// The last 8 address bytes, big-endian (for IPv4, the address in the low 32 bits).
    public let low: UInt64
    public let port: UInt16
    public let isIPv6: Bool

    /// An IPv4 address (as a big-endian number) and port.
    public init(ipv4: UInt32, port: UInt16) {
        self.init(high: 0, low: UInt64(ipv4), port: port, isIPv6: false)
    }

    private init(high: UInt64, low: UInt64, port: UInt16, isIPv6: Bool) {
        (self.high, self.low, self.port, self.isIPv6) = (high, low, port, isIPv6)
    }

    /// An IPv6 address (16 bytes) and port; an IPv4-mapped one (`::ffff:a.b.c.d`) becomes IPv4.
    public init(ipv6 bytes: some Collection<UInt8>, port: UInt16) {
        precondition(bytes.count == 16, "an IPv6 address is 16 bytes")
        let (first, last) = bytes.enumerated().reduce((UInt64(0), UInt64(0))) { sums, pair in
            pair.offset < 8 ? (sums.0 << 8 | UInt64(pair.element), sums.1) : (sums.0, sums.1 << 8 | UInt64(pair.element))
        }
        if first == 0, last >> 32 == 0xffff {
            self.init(ipv4: UInt32(truncatingIfNeeded: last), port: port)
        } else {
            self.init(high: first, low: last, port: port, isIPv6: true)
        }
    }

    /// A textual IPv4 or IPv6 address and a port; `nil` for anything else.
    public init?(host: String, port: Int) {
        guard let port = UInt16(exactly: port), port > 0 else { return nil }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            var value: UInt32 = 0
            for part in parts {
                guard part.count <= 3, let byte = UInt8(part) else { return nil }
                value = value << 8 | UInt32(byte)
            }
            self.init(ipv4: value, port: port)
            return
        }
        guard let bytes = Self.ipv6Bytes(host) else { return nil }
        self.init(ipv6: bytes, port: port)
    }

    /// The 16 bytes of a textual IPv6 address (with `::`, without a zone or embedded IPv4).
    private static func ipv6Bytes(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2, !text.isEmpty else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false).reduce(into: [UInt16]?([])) { result, group in
                guard group.count <= 4, let value = UInt16(group, radix: 16) else { result = nil; return }
                result?.append(value)
            }
        }
        guard let head = groups(halves[0]), let tail = halves.count == 2 ? groups(halves[1]) : [] else { return nil }
        let missing = 8 - head.count - tail.count
        guard halves.count == 2 ? missing >= 1 : missing == 0 else { return nil }
        let all = head + [UInt16](repeating: 0, count: halves.count == 2 ? missing : 0) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// The bytes this peer takes in a compact list: 6 or 18.
    public var compactSize: Int { isIPv6 ? 18 : 6 }

    /// Writes the compact form: the address bytes, then the port, big-endian.
    public func write(to buffer: inout ByteBuffer) {
        if isIPv6 {
            buffer.writeMultipleIntegers(high, low, port)
        } else {
            buffer.writeMultipleIntegers(UInt32(truncatingIfNeeded: low), port)
        }
    }

    /// The address as text, without the port.
    public var host: String {
        if !isIPv6 { return [24, 16, 8, 0].map { String(low >> UInt64($0) & 0xff) }.joined(separator: ".") }
        let groups = [high >> 48, high >> 32, high >> 16, high, low >> 48, low >> 32, low >> 16, low].map { String($0 & 0xffff, radix: 16) }
        return groups.joined(separator: ":")
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
