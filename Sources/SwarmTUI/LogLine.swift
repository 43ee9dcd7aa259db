import SwarmCore

/// One line of the log pane, in two lengths.
///
/// The full ``text`` is what `logger.log` and the headless output say
/// (`fetched chunk 41 from 127.0.0.1:34129: 256.0 KiB in 1.8 s (142.2 KiB/s)`). A pane too
/// narrow for it shows the compact form instead, most useful part first and the peer last
/// (`fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s from 127.0.0.1:34129`), and gives up the
/// peer's host before its port, the part that tells peers on one host apart.
public struct LogLine: Sendable, Equatable {
    /// The whole line.
    public var text: String
    /// The compact form without the peer.
    public var summary: String
    /// The peer the line is about, drawn after ``summary`` and ``joiner``, if any.
    public var peer: String?
    /// What joins ``summary`` and ``peer``: `" from "`, `" to "`.
    public var joiner: String

    /// A line that has no shorter form.
    public init(_ text: String) {
        self.init(text: text, summary: text, peer: nil, joiner: "")
    }

    /// A line with a compact form naming `peer` last.
    public init(text: String, summary: String, peer: String?, joiner: String = " from ") {
        self.text = text
        self.summary = summary
        self.peer = peer
        self.joiner = joiner
    }

    /// The line for `event` (`nil` for events the log does not show), its compact form built
    /// from the same figures as ``SwarmEvent/logLine``.
    public init?(_ event: SwarmEvent) {
        guard let text = event.logLine else { return nil }
        switch event {
        case .requested(let index, let holder):
            self.init(text: text, summary: "requested \(index)", peer: holder.description)
        case .fetched(let index, let holder, let bytes, let seconds):
            let rate = ByteCount.rateText(Double(bytes) / max(seconds, 1e-6))
            self.init(
                text: text, summary: "fetched \(index): \(ByteCount.text(bytes)) in \(SwarmEvent.secondsText(seconds)), \(rate)",
                peer: holder.description)
        case .failed(let index, let holder?, let reason):
            self.init(text: text, summary: "chunk \(index): \(reason)", peer: holder.description)
        case .abandoned(let index, let holder):
            self.init(text: text, summary: "chunk \(index) dropped (endgame: another copy came first)", peer: holder.description)
        case .peerDropped(let peer, let reason):
            self.init(text: text, summary: "closed (\(reason)):", peer: peer.description, joiner: " ")
        case .peerBanned(let holder, let count):
            self.init(text: text, summary: "banned after \(count) bad chunks:", peer: holder.description, joiner: " ")
        case .located(let index, let holders):
            self.init(
                text: text, summary: "chunk \(index): \(holders.count) holder\(holders.count == 1 ? "" : "s")",
                peer: holders.first?.description, joiner: holders.count > 1 ? " incl. " : " ")
        case .served(let report):
            switch report.outcome {
            case .served(let bytes):
                self.init(text: text, summary: "served \(report.index.map(\.description) ?? "?") (\(ByteCount.text(bytes)))", peer: report.peer, joiner: " to ")
            case .refused(let reason):
                self.init(text: text, summary: "refused: \(reason)", peer: report.peer, joiner: " to ")
            }
        default:
            self.init(text)
        }
    }

    /// The line as it best fits `width` columns: whole when it fits; else the compact form with
    /// the peer's host shortened before its port; else with the peer's port alone; else the
    /// compact form by itself (cut at the end by the canvas when even that is too long).
    public func fitted(to width: Int) -> String {
        guard text.count > width else { return text }
        guard let peer else { return summary }
        let room = width - summary.count - joiner.count
        let address = Format.address(peer, width: room)
        if address.count <= room { return summary + joiner + address }
        if let port = Format.port(of: peer), summary.count + 1 + port.count <= width { return summary + " " + port }
        return summary
    }
}
