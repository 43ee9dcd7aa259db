/// The tracker's `GET /` page: its figures in plain text, for a person with a browser or curl.
enum StatusPage {
    /// The summary, then every metric line of `exposition` but the histogram buckets.
    static func render(_ snapshot: TrackerMetrics.Snapshot, exposition: [UInt8], uptime: Duration) -> String {
        let connections = TrackerProtocol.allCases.compactMap { proto in snapshot.connections[proto].map { "\(proto.rawValue) \($0)" } }
        var lines = [
            "Swarm tracker, up \(Int(uptime / .seconds(1))) s",
            "",
            "BitTorrent: \(snapshot.swarms.torrents) torrents, \(snapshot.swarms.peers) peers (\(snapshot.swarms.seeders) seeders)",
            "classic:    \(snapshot.chunks) chunks, \(snapshot.registrations) registrations",
            "connections: \(connections.joined(separator: ", "))",
            "",
            "Counters (Prometheus text at /metrics):",
        ]
        for line in String(decoding: exposition, as: UTF8.self).split(separator: "\n")
        where !line.hasPrefix("#") && !line.contains("_bucket{") {
            lines.append("  " + line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
