import SwarmCore

/// Short texts for numbers on screen.
enum Format {
    /// `23 s`, `4 m 10 s`, `2 h 05 m`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) m \(total % 60) s" }
        let minutes = (total / 60) % 60
        return "\(total / 3600) h \(minutes < 10 ? "0" : "")\(minutes) m"
    }

    /// `42%`.
    static func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded(.down)))%" }

    static func bytes(_ count: Int) -> String { ByteCount.text(count) }

    /// `0.52`: two decimals.
    static func ratio(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    static func rate(_ bytesPerSecond: Double) -> String { ByteCount.rateText(bytesPerSecond) }
}

extension Format {
    /// `host:port` in at most `width` columns, the host shortened first: the port is what tells
    /// peers on one host apart. A numeric host keeps its end (`…0.0.1:45817`), a name its start
    /// (`seed.exa…:6000`); never shorter than `…:45817`. Text without a port is left whole.
    static func address(_ address: String, width: Int) -> String {
        guard address.count > width, let port = port(of: address) else { return address }
        let host = address.dropLast(port.count)
        let hostRoom = max(0, width - port.count - 1)
        let isNumeric = host.allSatisfy { $0.isHexDigit || ".:[]".contains($0) }
        return (isNumeric ? "…" + host.suffix(hostRoom) : host.prefix(hostRoom) + "…") + port
    }

    /// `:45817` of `127.0.0.1:45817`; `nil` when the text does not end in a port.
    static func port(of address: String) -> String? {
        guard let colon = address.lastIndex(of: ":") else { return nil }
        let digits = address[address.index(after: colon)...]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return String(address[colon...])
    }
}
