import SwarmCore

/// A torrent's files: path, size, how much is verified, priority; the cursor's row reversed
/// while the pane has focus (`s` skips it, `+` raises it). Paths give way before figures.
enum FilesView {
    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        let figures = [("size", 10), ("done", 5), ("priority", 8)]
        let fixed = figures.reduce(0) { $0 + $1.1 + 1 }
        let pathWidth = max(8, rect.width - fixed)
        func row(_ path: String, _ values: [String], y: Int, style: CellStyle, priorityStyle: CellStyle? = nil) {
            canvas.write(path, x: rect.x, y: y, maxWidth: pathWidth, style: style)
            var x = rect.x + pathWidth
            for (column, (_, width)) in figures.enumerated() {
                let text = values[column]
                let shown = column == 2 ? " " + text : String(repeating: " ", count: max(0, width + 1 - text.count)) + text
                canvas.write(shown, x: x, y: y, maxWidth: min(width + 1, rect.x + rect.width - x), style: column == 2 ? (priorityStyle ?? style) : style)
                x += width + 1
            }
        }
        row("file", figures.map(\.0), y: rect.y, style: theme.style(.default, bold: true))
        guard rect.height >= 2 else { return }
        let visible = rect.height - 1
        let start = max(0, min(state.fileCursor - visible + 1, state.files.count - visible))
        for (offset, file) in state.files.enumerated().dropFirst(start).prefix(visible) {
            let selected = state.focus == .files && offset == state.fileCursor
            let color: CellColor = file.priority == .skip ? .gray : file.done >= 1 ? .green : .default
            var style = theme.style(color, dim: file.priority == .skip)
            style.reverse = selected
            var priorityStyle = theme.style(file.priority == .high ? .yellow : color, bold: file.priority == .high, dim: file.priority == .skip)
            priorityStyle.reverse = selected
            row(file.path, [Format.bytes(Int(clamping: file.bytes)), Format.percent(file.done), file.priority.rawValue],
                y: rect.y + 1 + offset - start, style: style, priorityStyle: priorityStyle)
        }
    }

    /// The box title: `Files 3 of 12` with the cursor's place, and the fetching order.
    static func title(_ state: UIState) -> String {
        let place = state.files.isEmpty ? "" : " \(state.fileCursor + 1) of \(state.files.count)"
        return "Files\(place)\(state.sequential ? " · in order" : "")"
    }
}
