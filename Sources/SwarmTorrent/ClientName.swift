/// What a peer's client is, from its peer id's usual prefix, until its BEP 10 handshake says.
enum ClientName {
    /// Azureus-style two-letter codes (`-LT2040-`) of the clients one meets.
    static let codes: [String: String] = [
        "SW": "Swarm", "LT": "libtorrent", "lt": "rtorrent", "qB": "qBittorrent", "TR": "Transmission",
        "DE": "Deluge", "UT": "µTorrent", "BT": "BitTorrent", "AZ": "Vuze", "BI": "BiglyBT", "KT": "KTorrent",
        "WW": "WebTorrent", "FD": "Free Download Manager",
    ]

    /// `libtorrent 2.0.4` for `-LT2040-…`, `aria2 1.36.0` for `A2-1-36-0-…`, else `unknown`.
    static func from(peerID: [UInt8]) -> String {
        let text = String(decoding: peerID.prefix(10), as: UTF8.self)
        let characters = Array(text)
        if characters.count >= 8, characters[0] == "-", characters[7] == "-" {
            let code = String(characters[1...2])
            let version = characters[3...6].map(String.init).joined(separator: ".")
            return "\(codes[code] ?? code) \(version)"
        }
        if text.hasPrefix("A2-") {
            let parts = text.dropFirst(3).split(separator: "-").prefix(3)
            return "aria2 " + parts.joined(separator: ".")
        }
        return "unknown"
    }
}
