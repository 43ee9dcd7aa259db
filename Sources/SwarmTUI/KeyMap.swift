/// A key press, as the UI sees it (the backend translates curses codes).
public enum Key: Sendable, Equatable {
    case character(Character)
    case up, down, left, right
    case enter, escape, backspace, tab
    case pageUp, pageDown
    case resize
}

/// Which action each key means in each mode. Pure, so every sequence is unit-tested.
///
/// | mode | keys |
/// |---|---|
/// | normal | `p` pause/resume, `r` fetch a chunk by number, arrows/`hjkl` move, Enter fetch under the cursor, Tab cycles peers, files and log, PgUp/PgDn scroll, `d` detail in the log, `s` skip the file under the cursor, `+` raise it, `o` fetch in order, `?` help, `q` quit |
/// | typing an index | digits, Backspace, Enter fetch, Esc cancel |
/// | help | any key closes it (`q` still quits) |
public enum KeyMap {
    /// The action for `key` in `mode`, or `nil` when the key means nothing there.
    public static func action(for key: Key, in mode: UIState.Mode) -> UIAction? {
        switch mode {
        case .enteringIndex:
            switch key {
            case .character(let c) where c.isASCII && c.isNumber: return .typeDigit(c)
            case .backspace: return .eraseDigit
            case .enter: return .submitRequest
            case .escape: return .cancel
            default: return nil
            }
        case .help:
            if key == .character("q") { return .quit }
            return key == .resize ? nil : .toggleHelp
        case .normal:
            switch key {
            case .character("q"), .character("Q"): return .quit
            case .character("p"): return .togglePause
            case .character("r"): return .startRequest
            case .character("?"): return .toggleHelp
            case .left, .character("h"): return .moveCursor(dx: -1, dy: 0)
            case .right, .character("l"): return .moveCursor(dx: 1, dy: 0)
            case .up, .character("k"): return .moveCursor(dx: 0, dy: -1)
            case .down, .character("j"): return .moveCursor(dx: 0, dy: 1)
            case .enter: return .fetchCursor
            case .pageUp: return .scroll(10)
            case .pageDown: return .scroll(-10)
            case .tab: return .switchFocus
            case .character("d"): return .toggleDetail
            case .character("s"): return .toggleSkip
            case .character("+"): return .raisePriority
            case .character("o"): return .toggleSequential
            case .escape: return .cancel
            default: return nil
            }
        }
    }
}
