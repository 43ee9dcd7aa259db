/// How the UI draws on this terminal: with or without colour, with UTF-8 glyphs or ASCII.
///
/// Every state has its own glyph as well as its own colour, so the UI reads fully without colour.
public struct Theme: Sendable, Equatable {
    /// Whether colours are used (the terminal has them and `NO_COLOR` is unset).
    public var color: Bool
    /// Whether UTF-8 glyphs are used (the locale is UTF-8).
    public var unicode: Bool

    public init(color: Bool, unicode: Bool) {
        self.color = color
        self.unicode = unicode
    }

    /// A style: the colour is dropped in monochrome, where the attributes carry the meaning.
    public func style(_ color: CellColor, bold: Bool = false, reverse: Bool = false, dim: Bool = false) -> CellStyle {
        CellStyle(color: self.color ? color : .default, bold: bold, reverse: reverse, dim: dim)
    }

    // MARK: Glyphs

    var held: Character { unicode ? "█" : "#" }
    var downloading: Character { unicode ? "↓" : "v" }
    var failed: Character { unicode ? "✗" : "x" }
    var nowhere: Character { unicode ? "·" : "." }

    /// Available at `holders` other peers: darker shade for more holders.
    func available(holders: Int) -> Character {
        if unicode { return holders >= 3 ? "▓" : holders == 2 ? "▒" : "░" }
        return holders >= 9 ? "+" : Character(String(holders))
    }

    /// A range cell `fraction` held (0…1): eighth blocks, or a digit of tenths in ASCII.
    func fullness(_ fraction: Double) -> Character {
        if fraction >= 1 { return held }
        if unicode {
            let blocks: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇"]
            return fraction <= 0 ? nowhere : blocks[max(1, min(7, Int(fraction * 8)))]
        }
        return fraction <= 0 ? nowhere : Character(String(max(1, min(9, Int(fraction * 10)))))
    }

    /// A graph cell filled `eighths` of its height (1…8): `▁…█`, or `_ - = #` in ASCII.
    func bar(eighths: Int) -> Character {
        let level = max(1, min(8, eighths))
        if unicode { return ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"][level - 1] }
        return ["_", "_", "_", "-", "-", "=", "=", "#"][level - 1]
    }

    var horizontal: Character { unicode ? "─" : "-" }
    var vertical: Character { unicode ? "│" : "|" }
    var corners: (Character, Character, Character, Character) { unicode ? ("┌", "┐", "└", "┘") : ("+", "+", "+", "+") }
    var down: String { unicode ? "↓" : "down" }
    var up: String { unicode ? "↑" : "up" }
}
