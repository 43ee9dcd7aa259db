/// A colour a cell may be drawn in.
public enum CellColor: Int, Sendable, CaseIterable {
    case `default`, green, yellow, cyan, blue, red, magenta, gray
}

/// How a cell looks: colour plus attributes. In monochrome only the attributes show.
public struct CellStyle: Hashable, Sendable {
    /// The foreground colour.
    public var color: CellColor = .default
    /// Bold text.
    public var bold = false
    /// Foreground and background swapped (cursor, focus, bars).
    public var reverse = false
    /// Faint text.
    public var dim = false

    public init(color: CellColor = .default, bold: Bool = false, reverse: Bool = false, dim: Bool = false) {
        self.color = color
        self.bold = bold
        self.reverse = reverse
        self.dim = dim
    }

    /// The plain style.
    public static let plain = CellStyle()
}

/// One character cell.
public struct Cell: Hashable, Sendable {
    /// What is drawn: one single-width character.
    public var character: Character
    /// How it is drawn.
    public var style: CellStyle

    /// An empty cell.
    public static let blank = Cell(character: " ", style: .plain)
}

/// A rectangle of cells, in canvas coordinates.
public struct Rect: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    /// The rectangle shrunk by `amount` on every side.
    public func inset(by amount: Int) -> Rect {
        Rect(x: x + amount, y: y + amount, width: width - 2 * amount, height: height - 2 * amount)
    }

    /// Whether it has no cells.
    public var isEmpty: Bool { width <= 0 || height <= 0 }
}

/// A grid of styled cells that views draw into; the only thing the terminal backend reads.
///
/// Drawing never writes outside the grid: text is clipped, so no view can exceed the window.
/// Tests compare ``lines`` and ``styleLines`` against golden files.
///
/// ```swift
/// var canvas = Canvas(width: 10, height: 1)
/// canvas.write("hello world", x: 0, y: 0, maxWidth: 8)
/// canvas.lines   // ["hello w…  "]
/// ```
public struct Canvas: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Row-major cells.
    public private(set) var cells: [Cell]

    /// A blank canvas.
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    /// The whole canvas as a rectangle.
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// The cell at a position (blank outside the grid).
    public subscript(x: Int, y: Int) -> Cell {
        get { contains(x, y) ? cells[y * width + x] : .blank }
        set { if contains(x, y) { cells[y * width + x] = newValue } }
    }

    private func contains(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    /// Writes `text` from (`x`, `y`), at most `maxWidth` cells; longer text ends in `…`. Returns the width used.
    @discardableResult
    public mutating func write(_ text: String, x: Int, y: Int, maxWidth: Int? = nil, style: CellStyle = .plain) -> Int {
        let limit = min(maxWidth ?? (width - x), width - x)
        guard limit > 0, y >= 0, y < height else { return 0 }
        let characters = Array(text)
        let shown: [Character] =
            characters.count <= limit ? characters : Array(characters.prefix(limit - 1)) + ["…"]
        for (offset, character) in shown.enumerated() {
            self[x + offset, y] = Cell(character: character, style: style)
        }
        return shown.count
    }

    /// Fills a rectangle with one character and style.
    public mutating func fill(_ rect: Rect, with character: Character = " ", style: CellStyle = .plain) {
        guard !rect.isEmpty else { return }
        for y in rect.y..<(rect.y + rect.height) {
            for x in rect.x..<(rect.x + rect.width) { self[x, y] = Cell(character: character, style: style) }
        }
    }

    /// Changes the style of every cell in a rectangle, keeping the characters.
    public mutating func restyle(_ rect: Rect, _ change: (inout CellStyle) -> Void) {
        guard !rect.isEmpty else { return }
        for y in rect.y..<(rect.y + rect.height) {
            for x in rect.x..<(rect.x + rect.width) where contains(x, y) { change(&cells[y * width + x].style) }
        }
    }

    /// The text of each row.
    public var lines: [String] {
        (0..<height).map { y in String((0..<width).map { cells[y * width + $0].character }) }
    }

    /// One letter per cell for its style: colour initial (`d`efault, `g`reen, `y`ellow, `c`yan,
    /// `b`lue, `r`ed, `m`agenta, gr`a`y), upper case when reversed; bold and dim are not shown.
    public var styleLines: [String] {
        let letters: [CellColor: Character] = [
            .default: "d", .green: "g", .yellow: "y", .cyan: "c", .blue: "b", .red: "r", .magenta: "m", .gray: "a",
        ]
        return (0..<height).map { y in
            String(
                (0..<width).map { x in
                    let style = cells[y * width + x].style
                    let letter = letters[style.color]!
                    return style.reverse ? Character(letter.uppercased()) : letter
                }
            )
        }
    }
}
