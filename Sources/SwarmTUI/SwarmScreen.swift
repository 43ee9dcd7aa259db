/// Lays out and draws the whole screen from a ``UIState``: header, chunk map, peers with the
/// rate graph, log, status line, and the help overlay when open. Pure: the same state and size give the same canvas.
public enum SwarmScreen {
    /// The smallest window the panes fit in.
    public static let minimumSize = (width: 40, height: 12)

    /// The drawn canvas and the map layout (the cursor moves by it).
    public struct Frame: Sendable {
        public var canvas: Canvas
        public var map: ChunkMapLayout
    }

    /// Draws `state` at `width`×`height`.
    public static func render(_ state: UIState, theme: Theme, width: Int, height: Int) -> Frame {
        var canvas = Canvas(width: width, height: height)
        guard width >= minimumSize.width, height >= minimumSize.height else {
            let note = ["window too small", "\(width)×\(height), need \(minimumSize.width)×\(minimumSize.height)", "q quits"]
            for (offset, line) in note.enumerated() {
                let y = height / 2 - 1 + offset
                canvas.write(line, x: max(0, (width - line.count) / 2), y: y, maxWidth: width)
            }
            return Frame(canvas: canvas, map: ChunkMapLayout(total: state.total, width: 1, height: 1))
        }
        HeaderView.draw(state, theme: theme, in: Rect(x: 0, y: 0, width: width, height: 3), canvas: &canvas)
        StatusLineView.draw(state, theme: theme, in: Rect(x: 0, y: height - 1, width: width, height: 1), canvas: &canvas)

        let body = Rect(x: 0, y: 3, width: width, height: height - 4)
        // The map gets the rows it needs, up to 40% of the body; the lists get the rest.
        let mapRows = ChunkMapLayout.rowsNeeded(total: state.total, width: (width - 2) / 3, maximum: max(1, body.height * 40 / 100 - 3))
        let mapBox = Rect(x: 0, y: body.y, width: width, height: mapRows + 3)
        let layout = ChunkMapLayout(total: state.total, width: mapBox.width - 2, height: mapRows)
        let mapTitle = layout.chunksPerCell > 1 ? "Chunks \(theme.unicode ? "·" : "-") 1 cell = \(layout.chunksPerCell) chunks" : "Chunks"
        let inside = drawBox(mapTitle, in: mapBox, focused: false, theme: theme, canvas: &canvas)
        let map = ChunkMapView.draw(state, theme: theme, in: inside, canvas: &canvas)

        let lists = Rect(x: 0, y: mapBox.y + mapBox.height, width: width, height: body.y + body.height - mapBox.y - mapBox.height)
        var peersBox: Rect?
        var logBox: Rect?
        if width >= 100 {
            let peersWidth = width * 45 / 100
            peersBox = Rect(x: 0, y: lists.y, width: peersWidth, height: lists.height)
            logBox = Rect(x: peersWidth, y: lists.y, width: width - peersWidth, height: lists.height)
        } else if lists.height >= 8 {
            let peersHeight = max(4, lists.height * 45 / 100)
            peersBox = Rect(x: 0, y: lists.y, width: width, height: peersHeight)
            logBox = Rect(x: 0, y: lists.y + peersHeight, width: width, height: lists.height - peersHeight)
        } else if state.focus != .log {
            // Too short for both: the focused list only (Tab switches).
            peersBox = lists
        } else {
            logBox = lists
        }
        let alone = peersBox == nil || logBox == nil
        if let peersBox, state.listPane == .files {
            // A torrent's files in the list pane's place (Tab from the peers).
            let inside = drawBox(FilesView.title(state) + (alone ? " (Tab: log)" : ""), in: peersBox, focused: state.focus == .files, theme: theme, canvas: &canvas)
            FilesView.draw(state, theme: theme, in: inside, canvas: &canvas)
        } else if let peersBox {
            let title = PeersView.title(state, rows: peersBox.height - 2, theme: theme) + (alone ? " (Tab: log)" : "")
            let inside = drawBox(title, in: peersBox, focused: state.focus == .peers, theme: theme, canvas: &canvas)
            let (table, graph) = peersAndGraph(in: inside, peerCount: state.peers.count)
            PeersView.draw(state, theme: theme, in: table, canvas: &canvas)
            if let graph {
                if graph.x > table.x {
                    canvas.fill(Rect(x: graph.x - 1, y: graph.y, width: 1, height: graph.height), with: theme.vertical, style: theme.style(.blue, dim: true))
                }
                RateGraphView.draw(state, theme: theme, in: graph, canvas: &canvas)
            }
        }
        if let logBox {
            let inside = drawBox(alone ? "Log (Tab: peers)" : "Log", in: logBox, focused: state.focus == .log, theme: theme, canvas: &canvas)
            LogView.draw(state, theme: theme, in: inside, canvas: &canvas)
        }

        if state.mode == .help { HelpOverlay.draw(theme: theme, in: canvas.bounds, canvas: &canvas) }
        return Frame(canvas: canvas, map: map)
    }

    /// Where the rate graph goes in the peers pane, `inside`: under the peers when they leave
    /// it room (at the bottom, so it stays put as peers come), else at the right when the pane
    /// is wide enough for both, else nowhere.
    static func peersAndGraph(in inside: Rect, peerCount: Int) -> (table: Rect, graph: Rect?) {
        let spare = inside.height - (1 + max(1, peerCount)) - 1
        if spare >= 4 {
            let height = min(RateGraphView.maximumHeight, spare)
            return (
                Rect(x: inside.x, y: inside.y, width: inside.width, height: inside.height - height - 1),
                Rect(x: inside.x, y: inside.y + inside.height - height, width: inside.width, height: height)
            )
        }
        guard inside.width >= 64, inside.height >= RateGraphView.minimumHeight else { return (inside, nil) }
        let width = min(62, inside.width / 3)
        return (
            Rect(x: inside.x, y: inside.y, width: inside.width - width - 1, height: inside.height),
            Rect(x: inside.x + inside.width - width, y: inside.y, width: width, height: inside.height)
        )
    }
}
