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

    static func rate(_ bytesPerSecond: Double) -> String { ByteCount.rateText(bytesPerSecond) }
}
