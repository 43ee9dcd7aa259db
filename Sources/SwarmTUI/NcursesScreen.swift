import CNcurses

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The only code that touches curses: sets the terminal up, draws canvases, reads keys, and gives
/// the terminal back. Every call must come from the one UI thread.
final class NcursesScreen {
    /// Colour and glyphs this terminal supports.
    let theme: Theme
    private let window: UnsafeMutablePointer<WINDOW>
    private var shown: Canvas?
    private var isOpen = true

    /// Takes over the terminal. `keyTimeout` bounds how long ``readKey()`` waits.
    init(keyTimeout: Int32 = 100) {
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        let noColor = getenv("NO_COLOR").map { String(cString: $0).isEmpty == false } ?? false
        _ = initscr()
        window = swarm_stdscr()!
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        curs_set(0)
        set_escdelay(25)
        wtimeout(window, keyTimeout)
        let color = has_colors() && !noColor
        if color {
            start_color()
            use_default_colors()
            let gray: Int16 = swarm_colors() >= 16 ? 8 : Int16(COLOR_WHITE)
            let colors: [CellColor: Int16] = [
                .green: Int16(COLOR_GREEN), .yellow: Int16(COLOR_YELLOW), .cyan: Int16(COLOR_CYAN),
                .blue: Int16(COLOR_BLUE), .red: Int16(COLOR_RED), .magenta: Int16(COLOR_MAGENTA), .gray: gray,
            ]
            for (cellColor, number) in colors { init_pair(Int16(cellColor.rawValue), number, -1) }
        }
        theme = Theme(color: color, unicode: codeset == "UTF-8")
    }

    deinit { end() }

    /// The window's size in cells.
    var size: (width: Int, height: Int) { (Int(swarm_cols()), Int(swarm_lines())) }

    /// Waits up to the key timeout for a key.
    func readKey() -> Key? {
        var code: wint_t = 0
        let result = wget_wch(window, &code)
        if result == KEY_CODE_YES {
            switch Int32(code) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_NPAGE: return .pageDown
            case KEY_PPAGE: return .pageUp
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case KEY_RESIZE:
                shown = nil
                return .resize
            default: return nil
            }
        }
        guard result == OK, let scalar = Unicode.Scalar(UInt32(code)) else { return nil }
        switch scalar {
        case "\r", "\n": return .enter
        case "\u{1b}": return .escape
        case "\u{7f}", "\u{08}": return .backspace
        case "\t": return .tab
        default: return .character(Character(scalar))
        }
    }

    /// Shows `canvas`, redrawing only the rows that changed since the last call.
    func draw(_ canvas: Canvas) {
        let previous = shown?.width == canvas.width && shown?.height == canvas.height ? shown : nil
        if previous == nil { werase(window) }
        for y in 0..<canvas.height {
            let row = (0..<canvas.width).map { canvas[$0, y] }
            if let previous, (0..<canvas.width).allSatisfy({ previous[$0, y] == row[$0] }) { continue }
            var x = 0
            while x < row.count {
                let style = row[x].style
                var end = x
                while end < row.count && row[end].style == style { end += 1 }
                // The bottom-right cell would scroll the window; leave it out.
                if y == canvas.height - 1 && end == canvas.width { end -= 1 }
                guard end > x else { break }
                var text = row[x..<end].map { wchar_t(bitPattern: $0.character.unicodeScalars.first!.value) }
                text.append(0)
                _ = swarm_set_attr(window, attributes(for: style))
                _ = mvwaddnwstr(window, Int32(y), Int32(x), text, Int32(end - x))
                x = end
            }
        }
        _ = swarm_set_attr(window, swarm_a_normal())
        wnoutrefresh(window)
        doupdate()
        shown = canvas
    }

    private func attributes(for style: CellStyle) -> attr_t {
        var value = swarm_a_normal()
        if style.bold { value |= swarm_a_bold() }
        if style.reverse { value |= swarm_a_reverse() }
        if style.dim { value |= swarm_a_dim() }
        if theme.color, style.color != .default { value |= swarm_color_pair(Int16(style.color.rawValue)) }
        return value
    }

    /// Gives the terminal back. Safe to call more than once.
    func end() {
        guard isOpen else { return }
        isOpen = false
        endwin()
    }
}
