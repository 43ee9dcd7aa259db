import SwarmProtocol

extension SwarmEvent {
    /// One readable line for the headless output and the TUI's log pane; `nil` for events too
    /// frequent to print (transfer progress).
    public var logLine: String? {
        switch self {
        case .started(let name, let folder, let total, let held, let serving):
            let place = serving.host == "::" ? "port \(serving.port) of every address (IPv4 and IPv6)" : serving.description
            return "\(name): \(held.count)/\(total) chunks in \(folder); serving on \(place)"
        case .tracker(let state):
            return "tracker \(state)"
        case .trackerLink(let tracker, let state):
            return "tracker \(tracker) \(state)"
        case .advertising(let address, let tracker):
            return "registering our chunks with \(tracker) as \(address)"
        case .registered(let count):
            return "registered \(count) chunk\(count == 1 ? "" : "s") with the tracker"
        case .located(let index, let holders):
            return "chunk \(index): \(holders.count) holder\(holders.count == 1 ? "" : "s") (\(holders.map(\.description).joined(separator: ", ")))"
        case .nowhere(let index):
            return "chunk \(index): no holder yet, will ask again"
        case .requested(let index, let holder):
            return "requested chunk \(index) from \(holder)"
        case .receiving, .surveyed:
            return nil
        case .fetched(let index, let holder, let bytes, let seconds):
            return "fetched chunk \(index) from \(holder): \(ByteCount.text(bytes)) in \(Self.secondsText(seconds)) (\(ByteCount.rateText(Double(bytes) / max(seconds, 1e-6))))"
        case .failed(let index, let holder, let reason):
            return "chunk \(index)\(holder.map { " from \($0)" } ?? ""): \(reason)"
        case .abandoned(let index, let holder):
            return "chunk \(index) from \(holder): dropped, another copy arrived first (endgame)"
        case .peerBanned(let holder, let count):
            return "not using \(holder) again: \(count) bad chunks"
        case .served(let report):
            switch report.outcome {
            case .served(let bytes):
                return "served chunk \(report.index.map(\.description) ?? "?") to \(report.peer) (\(ByteCount.text(bytes)))"
            case .refused(let reason):
                return "refused \(report.peer): \(reason)"
            }
        case .uploaded, .availability, .peerStatus, .files:
            return nil
        case .fetchingMetadata(let name):
            return "fetching metadata\(name.map { " of \($0)" } ?? "") from peers"
        case .torrent(let name, let bytes):
            return "torrent \(name): \(ByteCount.text(Int(clamping: bytes)))"
        case .swarmSize(let seeds, let leechers):
            return "tracker counts \(seeds.map(String.init) ?? "?") seeds, \(leechers.map(String.init) ?? "?") leechers"
        case .checked(let count, let good):
            return "checked \(count) piece\(count == 1 ? "" : "s") already on disk: \(good) good"
        case .peerDropped(let peer, let reason):
            return "closed \(peer): \(reason)"
        case .paused(let isPaused):
            return isPaused ? "paused: no new fetches (still serving)" : "resumed"
        case .complete(let total):
            return "complete: all \(total) chunks held"
        case .problem(let text):
            return "problem: \(text)"
        case .assembled(let path, let bytes):
            return "assembled \(path): \(bytes) bytes"
        }
    }

    /// `180 ms`, `1.8 s`: how long a transfer took, as the log lines say it.
    public static func secondsText(_ seconds: Double) -> String {
        seconds < 1 ? "\(Int(seconds * 1000)) ms" : "\(Int(seconds * 10) / 10).\(Int(seconds * 10) % 10) s"
    }
}

/// Human-readable sizes and rates in binary units (KiB, MiB, GiB), as a demanding user expects.
public enum ByteCount {
    /// `1536` → `"1.5 KiB"`, `12` → `"12 B"`.
    public static func text(_ bytes: Int) -> String { scaled(Double(bytes), suffix: "") }

    /// Bytes per second → `"3.2 MiB/s"`.
    public static func rateText(_ bytesPerSecond: Double) -> String { scaled(bytesPerSecond, suffix: "/s") }

    private static func scaled(_ value: Double, suffix: String) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = value
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(Int(value)) B\(suffix)" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])\(suffix)"
    }
}
