/// Download and upload over the last minute as bars (`▁▂▃▄▅▆▇█`, ASCII `_-=#`), newest on the
/// right: the shape of a transfer at a glance, where the header gives only the figure of now.
///
/// With four rows or more each direction gets a label with its highest second and bars up to three rows
/// tall; with two or three, one row of bars each behind its arrow.
enum RateGraphView {
    /// The rows the graph uses at most: a label and three rows of bars per direction.
    static let maximumHeight = 8
    /// The rows it needs at least: one row of bars per direction.
    static let minimumHeight = 2
    /// The columns it needs at least to say anything.
    static let minimumWidth = 16

    static func draw(_ state: UIState, theme: Theme, in rect: Rect, canvas: inout Canvas) {
        guard rect.height >= minimumHeight, rect.width >= minimumWidth else { return }
        let series: [(arrow: String, color: CellColor, samples: [Double])] = [
            (theme.down, .green, state.downHistory.perSecond(at: state.now)),
            (theme.up, .magenta, state.upHistory.perSecond(at: state.now)),
        ]
        let labelled = rect.height >= 4
        let barRows = labelled ? min(3, (rect.height - 2) / 2) : 1
        let gutter = series.map(\.arrow.count).max()! + 1
        var y = rect.y
        for (arrow, color, samples) in series {
            let columns = resample(samples, into: rect.width - gutter)
            let peak = columns.max() ?? 0
            if labelled {
                let label = "\(arrow) \(RateHistory.seconds) s, max \(Format.rate(peak))"
                canvas.write(label, x: rect.x, y: y, maxWidth: rect.width, style: theme.style(color, bold: true))
                y += 1
            } else {
                canvas.write(arrow, x: rect.x, y: y, maxWidth: gutter, style: theme.style(color, bold: true))
            }
            for (offset, value) in columns.enumerated() {
                drawBar(value, peak: peak, rows: barRows, x: rect.x + gutter + offset, bottom: y + barRows - 1, color: color, theme: theme, canvas: &canvas)
            }
            y += barRows
        }
    }

    /// One column: `value` of `peak` as eighths over `rows` rows, at least one eighth when not 0;
    /// a faint dot marks a second with nothing moved.
    private static func drawBar(
        _ value: Double, peak: Double, rows: Int, x: Int, bottom: Int, color: CellColor, theme: Theme, canvas: inout Canvas
    ) {
        guard value > 0, peak > 0 else {
            canvas[x, bottom] = Cell(character: theme.nowhere, style: theme.style(.gray, dim: true))
            return
        }
        let eighths = max(1, Int((value / peak * Double(rows * 8)).rounded()))
        for row in 0..<rows {
            let filled = min(8, eighths - row * 8)
            guard filled > 0 else { break }
            canvas[x, bottom - row] = Cell(character: theme.bar(eighths: filled), style: theme.style(color))
        }
    }

    /// `samples` in at most `width` columns, newest last: one per sample when they fit, else
    /// each column the mean of the samples it covers.
    static func resample(_ samples: [Double], into width: Int) -> [Double] {
        guard width > 0, !samples.isEmpty else { return [] }
        guard samples.count > width else { return samples }
        return (0..<width).map { column in
            let slice = samples[(column * samples.count / width)..<((column + 1) * samples.count / width)]
            return slice.reduce(0, +) / Double(slice.count)
        }
    }
}
