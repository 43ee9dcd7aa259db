import SwarmCore

/// The peers table: columns drop by priority on narrow screens instead of wrapping, and the
/// address gives up its host before its port. Chunk holders show chunks got and sent, a rate
/// and a state; BitTorrent peers their client, flags, rates each way and progress.
enum PeersView {
    /// A column after the address.
    struct Column {
        let title: String
        let width: Int
        /// Text columns are aligned left, figures right.
        let isText: Bool
        let value: @Sendable (UIState.PeerRow, Double) -> String
    }

    static let state = Column(title: "state", width: 11, isText: true) { peer, _ in peer.state.rawValue }

    /// For chunk holders, and the order in which they give way.
    static let chunkColumns = [
        Column(title: "got", width: 4, isText: false) { peer, _ in "\(peer.received)" },
        Column(title: "sent", width: 4, isText: false) { peer, _ in "\(peer.served)" },
        Column(title: "rate", width: 11, isText: false) { peer, now in Format.rate(peer.rate.rate(at: now)) },
        state,
    ]
    static let chunkDropOrder = [1, 2, 0, 3]

    /// For BitTorrent peers, and the order in which they give way.
    static let torrentColumns = [
        Column(title: "client", width: 12, isText: true) { peer, _ in peer.status?.client ?? "" },
        Column(title: "flags", width: 5, isText: true) { peer, _ in peer.status?.flags ?? "" },
        Column(title: "down", width: 11, isText: false) { peer, now in Format.rate(peer.down.rate(at: now)) },
        Column(title: "up", width: 11, isText: false) { peer, now in Format.rate(peer.up.rate(at: now)) },
        Column(title: "done", width: 4, isText: false) { peer, _ in peer.status.map { Format.percent($0.progress) } ?? "" },
        state,
    ]
    static let torrentDropOrder = [5, 3, 1, 4, 0, 2]

    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        let isTorrent = state.torrentName != nil
        let columns = isTorrent ? torrentColumns : chunkColumns
        var shown = Set(columns.indices)
        var widths = columns.map(\.width)
        let minimumAddress = 14
        func fixedWidth() -> Int { shown.reduce(0) { $0 + widths[$1] + 1 } }
        for column in isTorrent ? torrentDropOrder : chunkDropOrder where rect.width - fixedWidth() < minimumAddress { shown.remove(column) }
        // Room to spare goes to the client's name, after an IPv4 address and port.
        if isTorrent, shown.contains(0) { widths[0] += max(0, min(10, rect.width - fixedWidth() - 22)) }
        let addressWidth = rect.width - fixedWidth()

        func row(_ address: String, _ values: [String], y: Int, style: CellStyle, stateStyle: CellStyle? = nil) {
            canvas.write(Format.address(address, width: addressWidth), x: rect.x, y: y, maxWidth: addressWidth, style: style)
            var x = rect.x + addressWidth
            for column in columns.indices where shown.contains(column) {
                let text = values[column]
                let width = widths[column]
                let padded = columns[column].isText ? text : String(repeating: " ", count: max(0, width - text.count)) + text
                let cellStyle = columns[column].title == "state" ? (stateStyle ?? style) : style
                canvas.write(" " + padded, x: x, y: y, maxWidth: width + 1, style: cellStyle)
                x += width + 1
            }
        }
        row("address", columns.map(\.title), y: rect.y, style: theme.style(.default, bold: true))
        guard rect.height >= 2 else { return }
        if state.peers.isEmpty {
            canvas.write("no peers yet", x: rect.x, y: rect.y + 1, maxWidth: rect.width, style: theme.style(.gray))
            return
        }
        let visible = rect.height - 1
        let start = max(0, min(state.peerScroll, state.peers.count - visible))
        for (offset, peer) in state.peers.dropFirst(start).prefix(visible).enumerated() {
            let stateColor: CellColor =
                switch peer.state {
                case .active: .green
                case .idle: .default
                case .unreachable: .yellow
                case .gone: .gray
                case .badData, .banned: .red
                }
            row(
                peer.address, columns.map { $0.value(peer, state.now) }, y: rect.y + 1 + offset, style: .plain,
                stateStyle: theme.style(stateColor, bold: peer.state != .idle))
        }
    }

    /// The box title, with the visible range when the list scrolls: `Peers 3–8 of 12`.
    static func title(_ state: UIState, rows: Int, theme: Theme) -> String {
        let visible = max(1, rows - 1)
        guard state.peers.count > visible else { return "Peers" }
        let start = min(state.peerScroll, state.peers.count - visible)
        return "Peers \(start + 1)\(theme.unicode ? "–" : "-")\(start + visible) of \(state.peers.count)"
    }
}
