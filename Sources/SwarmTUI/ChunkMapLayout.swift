/// How the chunk map fits a rectangle: one cell per chunk (wider cells when there is room), or,
/// when there are more chunks than cells, one cell per range of chunks.
///
/// ```swift
/// ChunkMapLayout(total: 64, width: 78, height: 6)      // 3 columns per chunk, 26 per row, 3 rows
/// ChunkMapLayout(total: 100_000, width: 78, height: 6) // 214 chunks per cell
/// ```
public struct ChunkMapLayout: Sendable, Equatable {
    /// Screen columns one map cell takes (glyphs plus a gap when above 1).
    public let cellWidth: Int
    /// Map cells per row.
    public let columns: Int
    /// Chunks each cell stands for.
    public let chunksPerCell: Int
    /// Rows in use.
    public let rows: Int

    public init(total: Int, width: Int, height: Int) {
        let width = max(1, width)
        let height = max(1, height)
        let total = max(1, total)
        for candidate in [3, 2] where width >= candidate && (total + width / candidate - 1) / (width / candidate) <= height {
            cellWidth = candidate
            columns = width / candidate
            chunksPerCell = 1
            rows = (total + columns - 1) / columns
            return
        }
        cellWidth = 1
        columns = width
        chunksPerCell = max(1, (total + width * height - 1) / (width * height))
        let cells = (total + chunksPerCell - 1) / chunksPerCell
        rows = (cells + columns - 1) / columns
    }

    /// Rows the map needs at `width` to show each chunk in its own cell, or `maximum` if more.
    public static func rowsNeeded(total: Int, width: Int, maximum: Int) -> Int {
        min(maximum, (max(1, total) + max(1, width) - 1) / max(1, width))
    }

    /// The chunks (1-based) a cell covers.
    public func chunks(inCell cell: Int, total: Int) -> ClosedRange<Int> {
        let first = cell * chunksPerCell + 1
        return first...min(total, first + chunksPerCell - 1)
    }

    /// The cell showing chunk `index` (1-based).
    public func cell(of index: Int) -> Int { (index - 1) / chunksPerCell }
}
