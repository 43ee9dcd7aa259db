import Testing

@testable import SwarmTUI

@Suite struct KeyMapTests {
    /// Feeds keys through the map and the state, as the UI loop does; returns the engine commands.
    func commands(for keys: [Key], state: inout UIState) -> [EngineCommand] {
        keys.compactMap { key in
            KeyMap.action(for: key, in: state.mode).flatMap { state.apply($0, mapColumns: 10) }
        }
    }

    func fresh() -> UIState {
        var state = UIState()
        state.reduce(.started(name: "c", folder: "f", total: 64, held: [], serving: Fixtures.peer(6000)), at: 0)
        return state
    }

    @Test func rDigitsEnterFetchesThatChunk() {
        var state = fresh()
        #expect(commands(for: [.character("r"), .character("1"), .character("2"), .enter], state: &state) == [.request(12)])
    }

    @Test func backspaceEditsAndEscapeCancels() {
        var state = fresh()
        #expect(commands(for: [.character("r"), .character("1"), .backspace, .character("3"), .enter], state: &state) == [.request(3)])
        #expect(commands(for: [.character("r"), .character("5"), .escape, .enter], state: &state) == [.request(1)],
                "Esc cancels; the later Enter fetches the chunk under the cursor")
    }

    @Test func lettersAreIgnoredWhileTypingAnIndex() {
        var state = fresh()
        #expect(commands(for: [.character("r"), .character("q"), .character("p"), .character("4"), .enter], state: &state) == [.request(4)])
    }

    @Test func pTogglesPauseFromTheStateItKnows() {
        var state = fresh()
        #expect(commands(for: [.character("p")], state: &state) == [.pause])
        state.reduce(.paused(true), at: 1)
        #expect(commands(for: [.character("p")], state: &state) == [.resume])
    }

    @Test(arguments: [
        (Key.right, 2), (.character("l"), 2), (.down, 11), (.character("j"), 11), (.left, 1), (.up, 1),
    ])
    func arrowsAndHjklMoveTheCursor(_ key: Key, _ expected: Int) {
        var state = fresh()
        _ = commands(for: [key], state: &state)
        #expect(state.cursor == expected)
    }

    @Test func enterFetchesTheChunkUnderTheCursor() {
        var state = fresh()
        #expect(commands(for: [.right, .right, .down, .enter], state: &state) == [.request(13)])
    }

    @Test func helpOpensAndAnyKeyClosesIt() {
        var state = fresh()
        _ = commands(for: [.character("?")], state: &state)
        #expect(state.mode == .help)
        #expect(commands(for: [.character("p")], state: &state).isEmpty, "p closes help without pausing")
        #expect(state.mode == .normal)
    }

    @Test func qQuitsFromEveryModeButTyping() {
        var state = fresh()
        #expect(commands(for: [.character("q")], state: &state) == [.quit])
        _ = commands(for: [.character("?")], state: &state)
        #expect(commands(for: [.character("q")], state: &state) == [.quit])
    }

    @Test func tabSwitchesWhichListScrolls() {
        var state = fresh()
        #expect(state.focus == .log)
        _ = commands(for: [.tab], state: &state)
        #expect(state.focus == .peers)
    }

    @Test func tabCyclesPeersFilesAndLogAndFileKeysCommandTheEngine() {
        var state = Fixtures.torrent()
        #expect(state.focus == .log)
        #expect(commands(for: [.character("s")], state: &state).isEmpty, "s needs the files pane")
        _ = commands(for: [.tab], state: &state)
        #expect(state.focus == .peers)
        _ = commands(for: [.tab], state: &state)
        #expect(state.focus == .files && state.listPane == .files)
        #expect(commands(for: [.down, .down, .character("s")], state: &state) == [.setPriority(file: 2, .normal)], "cover.jpg was skipped: fetched again")
        #expect(commands(for: [.up, .character("+")], state: &state) == [.setPriority(file: 1, .normal)], "a high file goes back to normal")
        #expect(commands(for: [.character("+")], state: &state) == [.setPriority(file: 1, .high)])
        #expect(commands(for: [.character("o")], state: &state) == [.sequential(true)])
        #expect(state.cursor == 1, "the arrows moved in the files, not on the map")
        _ = commands(for: [.tab], state: &state)
        #expect(state.focus == .log && state.listPane == .files, "the files stay beside the log")
    }

    @Test func withoutFilesTabGoesFromPeersToLog() {
        var state = fresh()
        _ = commands(for: [.tab, .tab], state: &state)
        #expect(state.focus == .log)
        _ = commands(for: [.tab], state: &state)
        #expect(state.focus == .peers)
    }
}
