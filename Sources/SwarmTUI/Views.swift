import SwarmCore

/// Draws a titled box; the title is reversed when the box has focus. Returns the inside.
@discardableResult
func drawBox(_ title: String, in rect: Rect, focused: Bool, theme: Theme, canvas: inout Canvas) -> Rect {
    guard rect.width >= 2, rect.height >= 2 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
    let border = theme.style(.blue, dim: !focused)
    let (topLeft, topRight, bottomLeft, bottomRight) = theme.corners
    let right = rect.x + rect.width - 1
    let bottom = rect.y + rect.height - 1
    canvas.fill(Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: 1), with: theme.horizontal, style: border)
    canvas.fill(Rect(x: rect.x + 1, y: bottom, width: rect.width - 2, height: 1), with: theme.horizontal, style: border)
    canvas.fill(Rect(x: rect.x, y: rect.y + 1, width: 1, height: rect.height - 2), with: theme.vertical, style: border)
    canvas.fill(Rect(x: right, y: rect.y + 1, width: 1, height: rect.height - 2), with: theme.vertical, style: border)
    canvas[rect.x, rect.y] = Cell(character: topLeft, style: border)
    canvas[right, rect.y] = Cell(character: topRight, style: border)
    canvas[rect.x, bottom] = Cell(character: bottomLeft, style: border)
    canvas[right, bottom] = Cell(character: bottomRight, style: border)
    canvas.write(" \(title) ", x: rect.x + 2, y: rect.y, maxWidth: rect.width - 4, style: theme.style(.default, bold: true, reverse: focused))
    return rect.inset(by: 1)
}

/// The three header rows: who and where, progress and rates, the cursor's chunk.
enum HeaderView {
    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard rect.height >= 1 else { return }
        let tracker: String
        switch state.trackerState {
        case .connected(let fast): tracker = fast ? "connected" : "connected (seed-era)"
        case .connecting: tracker = "connecting"
        case .retrying:
            let remaining = max(0, (state.trackerRetryAt ?? state.now) - state.now)
            tracker = "retrying in \(Format.duration(remaining))"
        }
        let trackerColor: CellColor = if case .connected = state.trackerState { .green } else { .red }
        var x = rect.x
        x += canvas.write(" \(state.name) ", x: x, y: rect.y, maxWidth: rect.width, style: theme.style(.cyan, bold: true, reverse: true))
        if let torrent = state.torrentName {
            x += canvas.write(" \(torrent) ", x: x, y: rect.y, maxWidth: rect.x + rect.width - x, style: theme.style(.default, bold: true))
            if state.torrentBytes > 0 {
                x += canvas.write("\(Format.bytes(Int(clamping: state.torrentBytes))) ", x: x, y: rect.y, maxWidth: rect.x + rect.width - x, style: theme.style(.gray))
            }
        }
        x += canvas.write(" tracker \(state.trackerAddress) ", x: x, y: rect.y, maxWidth: rect.x + rect.width - x)
        x += canvas.write(tracker, x: x, y: rect.y, maxWidth: rect.x + rect.width - x, style: theme.style(trackerColor, bold: true))
        if let registeredAs = state.registeredAs {
            x += canvas.write(" as \(registeredAs)", x: x, y: rect.y, maxWidth: rect.x + rect.width - x)
        }
        canvas.write("  folder \(state.folder)", x: x, y: rect.y, maxWidth: rect.x + rect.width - x, style: theme.style(.gray))

        guard rect.height >= 2 else { return }
        let y = rect.y + 1
        x = rect.x
        let runState = state.fetchingMetadata ? "METADATA" : state.complete ? "COMPLETE" : state.paused ? "PAUSED" : "RUNNING"
        let runColor: CellColor = state.fetchingMetadata ? .yellow : state.complete ? .green : state.paused ? .yellow : .cyan
        x += canvas.write(" \(runState) ", x: x, y: y, maxWidth: rect.width, style: theme.style(runColor, bold: true, reverse: true))
        let progress = state.fetchingMetadata ? " fetching metadata from peers " : " \(state.heldCount)/\(state.total) chunks \(Format.percent(state.progress)) "
        x += canvas.write(progress, x: x, y: y, maxWidth: rect.x + rect.width - x, style: theme.style(.default, bold: true))
        let eta = state.eta.map { "ETA \(Format.duration($0))" } ?? (state.complete ? "done" : "ETA —")
        var parts = [
            "\(theme.down) \(Format.rate(state.downRate.rate(at: state.now)))",
            "\(theme.up) \(Format.rate(state.upRate.rate(at: state.now)))",
            eta,
        ]
        if state.torrentName != nil {
            parts.append("ratio " + (state.ratio.map(Format.ratio) ?? "—"))
            if state.seeds != nil || state.leechers != nil {
                parts.append("seeds \(state.seeds.map(String.init) ?? "?") peers \(state.leechers.map(String.init) ?? "?")")
            }
        }
        parts += ["got \(Format.bytes(state.bytesFetched))", "sent \(Format.bytes(state.bytesServed))"]
        // Drop the least important figures rather than wrap.
        for part in parts {
            let remaining = rect.x + rect.width - x
            guard part.count + 2 <= remaining else { break }
            x += canvas.write("  " + part, x: x, y: y, maxWidth: remaining)
        }

        guard rect.height >= 3 else { return }
        canvas.write(" " + cursorLine(state), x: rect.x, y: rect.y + 2, maxWidth: rect.width, style: theme.style(.gray))
    }

    static func cursorLine(_ state: UIState) -> String {
        guard state.total > 0 else { return "" }
        let index = state.cursor
        let holders = state.holders[index] ?? []
        let where_ = holders.isEmpty ? "" : " at " + holders.joined(separator: ", ")
        switch state.chunks[index - 1] {
        case .held: return "cursor: chunk \(index) held"
        case .downloading: return "cursor: chunk \(index) downloading\(where_)"
        case .available(let count): return "cursor: chunk \(index) available from \(count) peer\(count == 1 ? "" : "s")\(where_)"
        case .nowhere: return "cursor: chunk \(index) " + (state.holders[index] == nil ? "not located yet" : "held by nobody yet")
        case .failed: return "cursor: chunk \(index) failed, will retry\(where_)"
        }
    }
}

/// The chunk map: colour and glyph per state, cursor reversed, legend underneath.
enum ChunkMapView {
    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) -> ChunkMapLayout {
        let mapArea = Rect(x: rect.x, y: rect.y, width: rect.width, height: max(1, rect.height - 1))
        let layout = ChunkMapLayout(total: state.total, width: mapArea.width, height: mapArea.height)
        guard !rect.isEmpty, state.total > 0 else { return layout }
        let cursorCell = layout.cell(of: state.cursor)
        let cellCount = (state.total + layout.chunksPerCell - 1) / layout.chunksPerCell
        for cell in 0..<min(cellCount, layout.columns * mapArea.height) {
            let (glyph, style) = appearance(of: layout.chunks(inCell: cell, total: state.total), state: state, theme: theme)
            var cellStyle = style
            if cell == cursorCell { cellStyle.reverse = true }
            let x = mapArea.x + (cell % layout.columns) * layout.cellWidth
            let y = mapArea.y + cell / layout.columns
            for offset in 0..<max(1, layout.cellWidth - 1) { canvas[x + offset, y] = Cell(character: glyph, style: cellStyle) }
        }
        if rect.height >= 2 { drawLegend(theme: theme, at: rect.y + rect.height - 1, x: rect.x, width: rect.width, canvas: &canvas) }
        return layout
    }

    static func appearance(of range: ClosedRange<Int>, state: UIState, theme: Theme) -> (Character, CellStyle) {
        if range.count == 1 { return appearance(of: state.chunks[range.lowerBound - 1], theme: theme) }
        var held = 0
        var downloading = false
        var failed = false
        for index in range {
            switch state.chunks[index - 1] {
            case .held: held += 1
            case .downloading: downloading = true
            case .failed: failed = true
            default: break
            }
        }
        let fraction = Double(held) / Double(range.count)
        let color: CellColor = fraction >= 1 ? .green : downloading ? .yellow : failed ? .red : held > 0 ? .green : .gray
        return (theme.fullness(fraction), theme.style(color, bold: downloading))
    }

    static func appearance(of chunk: UIState.ChunkState, theme: Theme) -> (Character, CellStyle) {
        switch chunk {
        case .held: return (theme.held, theme.style(.green))
        case .downloading: return (theme.downloading, theme.style(.yellow, bold: true))
        case .available(let count): return (theme.available(holders: count), theme.style(.cyan))
        case .nowhere: return (theme.nowhere, theme.style(.gray, dim: true))
        case .failed: return (theme.failed, theme.style(.red, bold: true))
        }
    }

    private static func drawLegend(theme: Theme, at y: Int, x: Int, width: Int, canvas: inout Canvas) {
        let shades = theme.unicode ? "░▒▓" : "1-9"
        let compact = width < 70
        let items: [(String, CellStyle, String)] = [
            (String(theme.held), theme.style(.green), "held"),
            (String(theme.downloading), theme.style(.yellow, bold: true), compact ? "getting" : "downloading"),
            (shades, theme.style(.cyan), compact ? "peers" : theme.unicode ? "at 1/2/3+ peers" : "at N peers"),
            (String(theme.nowhere), theme.style(.gray, dim: true), compact ? "none" : "nowhere yet"),
            (String(theme.failed), theme.style(.red, bold: true), "failed"),
        ]
        var column = x
        for (glyphs, style, label) in items {
            let remaining = x + width - column
            guard glyphs.count + label.count + 1 <= remaining else { break }
            column += canvas.write(glyphs, x: column, y: y, style: style)
            column += canvas.write(" \(label)\(compact ? " " : "  ")", x: column, y: y, maxWidth: remaining - glyphs.count, style: theme.style(.gray))
        }
    }
}

/// The newest log lines, or older ones after PgUp.
enum LogView {
    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard !rect.isEmpty else { return }
        let shown = state.shownLog
        let end = max(0, shown.count - state.logScroll)
        let lines = shown[..<end].suffix(rect.height)
        for (offset, entry) in lines.enumerated() {
            let stamp = Format.duration(entry.time).replacingOccurrences(of: " ", with: "")
            let x = rect.x + canvas.write(String(repeating: " ", count: max(0, 6 - stamp.count)) + stamp + " ", x: rect.x, y: rect.y + offset, maxWidth: rect.width, style: theme.style(.gray))
            let width = rect.x + rect.width - x
            let style = entry.isProblem ? theme.style(.red) : entry.isDetail ? theme.style(.gray) : .plain
            canvas.write(entry.line.fitted(to: width), x: x, y: rect.y + offset, maxWidth: width, style: style)
        }
        if state.logScroll > 0 {
            let note = " \(state.logScroll) newer below (PgDn) "
            canvas.write(note, x: rect.x + max(0, rect.width - note.count), y: rect.y + rect.height - 1, maxWidth: rect.width, style: theme.style(.yellow, reverse: true))
        }
    }
}

/// The bottom line: key hints, the index being typed, or the answer to the last command.
enum StatusLineView {
    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard !rect.isEmpty else { return }
        canvas.fill(rect, style: theme.style(.default, reverse: true))
        let bar = theme.style(.default, reverse: true)
        if case .enteringIndex(let typed) = state.mode {
            canvas.write(" fetch chunk (1–\(state.total)): \(typed)_   Enter fetch · Esc cancel", x: rect.x, y: rect.y, maxWidth: rect.width, style: bar)
            return
        }
        var x = rect.x
        if let status = state.status {
            x += canvas.write(" \(status.text) ", x: x, y: rect.y, maxWidth: rect.width, style: theme.style(status.isError ? .red : .green, bold: true, reverse: true))
        }
        // Most important first: narrow windows drop from the end, never run off the edge.
        let files: [(String, String)] = state.files.isEmpty ? [] : [("o", state.sequential ? "rarest" : "in order"), ("s", "skip"), ("+", "raise")]
        let hints: [(String, String)] =
            [
                ("q", "quit"), ("p", state.paused ? "resume" : "pause"), ("r", "fetch #"), ("?", "help"),
                ("d", state.showsDetail ? "less" : "detail"),
            ] + files + [("arrows", "move"), ("Enter", "fetch"), ("Tab", "focus"), ("PgUp/Dn", "scroll")]
        for (key, label) in hints {
            let text = " \(key) \(label) "
            guard text.count <= rect.x + rect.width - x else { break }
            x += canvas.write(" \(key)", x: x, y: rect.y, style: theme.style(.default, bold: true, reverse: true))
            x += canvas.write(" \(label) ", x: x, y: rect.y, style: bar)
        }
    }
}

/// The help overlay, centred over everything.
enum HelpOverlay {
    static let lines = [
        "p          pause / resume fetching (serving goes on)",
        "r 12 Enter fetch chunk 12 now, even while paused",
        "arrows hjkl move the map cursor",
        "Enter      fetch the chunk under the cursor",
        "Tab        cycle focus: peers, files (a torrent's), log",
        "s / +      skip / raise the file under the cursor",
        "o          fetch in order (to play while it downloads)",
        "PgUp PgDn  scroll the focused list",
        "d          show / hide location look-ups in the log",
        "?          close this help",
        "q Ctrl-C   quit",
    ]

    static func draw(theme: Theme, in bounds: Rect, canvas: inout Canvas) {
        let width = min(bounds.width - 2, (lines.map(\.count).max() ?? 0) + 4)
        let height = min(bounds.height - 2, lines.count + 4)
        let box = Rect(x: bounds.x + (bounds.width - width) / 2, y: bounds.y + (bounds.height - height) / 2, width: width, height: height)
        canvas.fill(box)
        let inside = drawBox("Help", in: box, focused: true, theme: theme, canvas: &canvas)
        for (offset, line) in lines.prefix(max(0, inside.height - 1)).enumerated() {
            canvas.write(line, x: inside.x + 1, y: inside.y + offset, maxWidth: inside.width - 1)
        }
        canvas.write("any key closes", x: inside.x + 1, y: inside.y + inside.height - 1, maxWidth: inside.width - 1, style: theme.style(.gray))
    }
}
