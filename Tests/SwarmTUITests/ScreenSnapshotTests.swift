import Foundation
import SwarmCore
import Testing

@testable import SwarmTUI

/// Golden screens: the whole UI rendered into a Canvas, compared with `Snapshots/*.txt`.
/// Re-record on purpose only: `SWARM_RECORD_SNAPSHOTS=1 swift test --filter ScreenSnapshotTests`.
@Suite struct ScreenSnapshotTests {
    static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    static let colour = Theme(color: true, unicode: true)
    static let monochrome = Theme(color: false, unicode: true)

    static let sizes = [(40, 12), (80, 24), (200, 60)]
    static let totals = [1, 64, 100_000]

    /// Text, then a blank line, then one style letter per cell (see `Canvas.styleLines`).
    static func render(_ state: UIState, _ theme: Theme, _ width: Int, _ height: Int) -> String {
        let canvas = SwarmScreen.render(state, theme: theme, width: width, height: height).canvas
        return (canvas.lines + [""] + canvas.styleLines).joined(separator: "\n") + "\n"
    }

    static func assertSnapshot(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = snapshots.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["SWARM_RECORD_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(at: snapshots, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let golden = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("no snapshot \(name).txt; record with SWARM_RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
            return
        }
        if golden != text {
            let first = zip(golden.split(separator: "\n", omittingEmptySubsequences: false), text.split(separator: "\n", omittingEmptySubsequences: false))
                .enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("\(name) differs at line \((first?.offset ?? 0) + 1):\n- \(first?.element.0 ?? "")\n+ \(first?.element.1 ?? "")", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: sizes.indices, totals)
    func screensMatchTheirGoldenCopies(_ size: Int, _ total: Int) throws {
        let (width, height) = Self.sizes[size]
        let state = Fixtures.swarm(total: total)
        for (themeName, theme) in [("colour", Self.colour), ("mono", Self.monochrome)] {
            let text = Self.render(state, theme, width, height)
            try Self.assertSnapshot("screen-\(width)x\(height)-\(total)-\(themeName)", text)
        }
    }

    /// A torrent: its name and size, ratio and the tracker's counts in the header; the peers'
    /// clients, flags, rates each way and progress.
    @Test(arguments: [(80, 24), (200, 60)])
    func torrentScreensMatchTheirGoldenCopies(_ width: Int, _ height: Int) throws {
        try Self.assertSnapshot("torrent-\(width)x\(height)", Self.render(Fixtures.torrent(), Self.colour, width, height))
    }

    /// The files pane (Tab from the peers), the cursor on the second file.
    @Test(arguments: [(80, 24), (200, 60)])
    func filesPaneScreensMatchTheirGoldenCopies(_ width: Int, _ height: Int) throws {
        var state = Fixtures.torrent()
        _ = state.apply(.switchFocus)
        _ = state.apply(.switchFocus)
        _ = state.apply(.moveCursor(dx: 0, dy: 1))
        #expect(state.focus == .files && state.fileCursor == 1)
        try Self.assertSnapshot("files-\(width)x\(height)", Self.render(state, Self.colour, width, height))
    }

    /// A magnet link before its metadata came: nothing to map yet, and the header says why.
    @Test(arguments: [(80, 24), (200, 60)])
    func metadataPhaseScreensMatchTheirGoldenCopies(_ width: Int, _ height: Int) throws {
        var state = UIState()
        state.name = "me"
        state.trackerAddress = "udp://127.0.0.1:6969/announce"
        state.reduce(.fetchingMetadata(name: "debian-13.2.0-amd64-netinst.iso"), at: 0)
        state.reduce(.problem("tracker udp://127.0.0.1:6969/announce: no answer: it sent nothing back in 2 tries over 45.0 s"), at: 45)
        state.tick(at: 46)
        let text = Self.render(state, Self.colour, width, height)
        #expect(text.contains("METADATA") && text.contains("fetching metadata from peers"))
        try Self.assertSnapshot("metadata-\(width)x\(height)", text)
    }

    @Test func asciiScreenForNonUTF8Locales() throws {
        try Self.assertSnapshot("screen-80x24-64-ascii", Self.render(Fixtures.swarm(total: 64), Theme(color: false, unicode: false), 80, 24))
    }

    @Test func helpOverlayAndTypingPrompt() throws {
        var state = Fixtures.swarm(total: 64)
        _ = state.apply(.toggleHelp)
        try Self.assertSnapshot("help-80x24", Self.render(state, Self.colour, 80, 24))
        _ = state.apply(.toggleHelp)
        _ = state.apply(.startRequest)
        _ = state.apply(.typeDigit("4"))
        let lines = SwarmScreen.render(state, theme: Self.colour, width: 80, height: 24).canvas.lines
        #expect(lines[23].hasPrefix(" fetch chunk (1–64): 4_"))
    }

    @Test(arguments: [(0, 0), (1, 1), (39, 12), (40, 11), (10, 3)])
    func tinyWindowsShowANoteAndNeverCrash(_ width: Int, _ height: Int) {
        let canvas = SwarmScreen.render(Fixtures.swarm(total: 64), theme: Self.colour, width: width, height: height).canvas
        #expect(canvas.width == width && canvas.height == height)
        if width >= 16 && height >= 3 { #expect(canvas.lines.joined().contains("window too small")) }
    }

    @Test(arguments: [40, 57, 80, 123, 200])
    func everyLineFitsTheWindowExactly(_ width: Int) {
        let canvas = SwarmScreen.render(Fixtures.swarm(total: 64), theme: Self.colour, width: width, height: 24).canvas
        #expect(canvas.lines.allSatisfy { $0.count == width })
    }

    @Test func statesDifferByGlyphAsWellAsColour() {
        let theme = Self.monochrome
        let states: [UIState.ChunkState] = [.held, .downloading, .available(1), .available(2), .available(3), .nowhere, .failed]
        let glyphs = states.map { ChunkMapView.appearance(of: $0, theme: theme).0 }
        #expect(Set(glyphs).count == states.count)
        let ascii = states.map { ChunkMapView.appearance(of: $0, theme: Theme(color: false, unicode: false)).0 }
        #expect(Set(ascii).count == states.count)
    }

    @Test func colourShowsOnlyWithAColourTheme() {
        let state = Fixtures.swarm(total: 64)
        let colour = SwarmScreen.render(state, theme: Self.colour, width: 80, height: 24).canvas
        let mono = SwarmScreen.render(state, theme: Self.monochrome, width: 80, height: 24).canvas
        #expect(colour.lines == mono.lines, "the same text either way")
        #expect(colour.cells.contains { $0.style.color == .green })
        #expect(mono.cells.allSatisfy { $0.style.color == .default })
        // Chunk 3 is held: green block in the first map row.
        let cell = colour[1 + 2 * 3, 4]
        #expect(cell.character == "█" && cell.style.color == .green)
    }

    @Test func hundredThousandChunksShowRangesWithFullness() {
        let frame = SwarmScreen.render(Fixtures.swarm(total: 100_000), theme: Self.colour, width: 80, height: 24)
        #expect(frame.map.chunksPerCell > 1)
        #expect(frame.canvas.lines.joined().contains("Chunks · 1 cell = \(frame.map.chunksPerCell) chunks"))
    }
}
