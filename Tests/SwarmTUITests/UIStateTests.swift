import SwarmCore
import SwarmProtocol
import Testing

@testable import SwarmTUI

@Suite struct UIStateTests {
    func started(total: Int = 8, held: Set<Int> = [1]) -> UIState {
        var state = UIState()
        state.reduce(
            .started(name: "c", folder: "f", total: total, held: Set(held.map(ChunkIndex.init)), serving: Fixtures.peer(6000)),
            at: 0
        )
        return state
    }

    @Test func startedSetsTheMapFromTheHeldChunks() {
        let state = started()
        #expect(state.total == 8)
        #expect(state.heldCount == 1)
        #expect(state.chunks[0] == .held)
        #expect(state.chunks[1] == .nowhere)
        #expect(state.progress == 0.125)
    }

    @Test func chunkGoesFromAvailableToDownloadingToHeld() {
        var state = started()
        state.reduce(.located(ChunkIndex(2), holders: [Fixtures.peer(6001), Fixtures.peer(6002)]), at: 1)
        #expect(state.chunks[1] == .available(2))
        state.reduce(.requested(ChunkIndex(2), from: Fixtures.peer(6001)), at: 1)
        #expect(state.chunks[1] == .downloading)
        #expect(state.peers.first?.state == .active)
        state.reduce(.fetched(ChunkIndex(2), from: Fixtures.peer(6001), bytes: 1000, seconds: 0.1), at: 2)
        #expect(state.chunks[1] == .held)
        #expect(state.heldCount == 2)
        #expect(state.peers.first?.received == 1)
        #expect(state.peers.first?.state == .idle)
    }

    @Test func surveyDoesNotOverrideADownloadInProgress() {
        var state = started()
        state.reduce(.requested(ChunkIndex(3), from: Fixtures.peer(6001)), at: 1)
        state.reduce(.surveyed(ChunkIndex(3), holders: [Fixtures.peer(6001)]), at: 1)
        #expect(state.chunks[2] == .downloading)
    }

    @Test func failuresMarkTheChunkAndThePeer() {
        var state = started()
        state.reduce(.requested(ChunkIndex(2), from: Fixtures.peer(6001)), at: 1)
        state.reduce(.failed(ChunkIndex(2), from: Fixtures.peer(6001), reason: "sent 4 bytes with SHA-1 a, expected b"), at: 1)
        #expect(state.chunks[1] == .failed)
        #expect(state.peers.first?.state == .badData)
        state.reduce(.requested(ChunkIndex(3), from: Fixtures.peer(6002)), at: 1)
        state.reduce(.failed(ChunkIndex(3), from: Fixtures.peer(6002), reason: "unreachable: connection refused"), at: 1)
        #expect(state.peers.last?.state == .unreachable)
        state.reduce(.peerBanned(Fixtures.peer(6001), badChunks: 3), at: 2)
        #expect(state.peers.first?.state == .banned)
        #expect(state.log.last?.isProblem == true)
    }

    @Test func servedRequestsGroupIncomingPeersByHost() {
        var state = started()
        for port in [50001, 50002] {
            state.reduce(.served(ServeReport(index: ChunkIndex(1), peer: "127.0.0.1:\(port)", outcome: .served(bytes: 10))), at: 1)
        }
        #expect(state.peers.map(\.address) == ["127.0.0.1 (incoming)"])
        #expect(state.peers.first?.served == 2)
        #expect(state.bytesServed == 20)
    }

    @Test func ratesFollowTheLastFewSeconds() {
        var state = started()
        state.reduce(.receiving(ChunkIndex(2), from: Fixtures.peer(6001), bytes: 3 << 20), at: 1)
        state.reduce(.receiving(ChunkIndex(2), from: Fixtures.peer(6001), bytes: 3 << 20), at: 3.9)
        state.tick(at: 4)
        #expect(abs(state.downRate.rate(at: state.now) - Double(2 << 20)) < 1, "6 MiB over 3 s")
        state.tick(at: 20)
        #expect(state.downRate.rate(at: state.now) == 0, "old bytes no longer count")
    }

    @Test func etaComesFromChunkSizeAndRate() {
        var state = started(total: 4, held: [])
        state.reduce(.receiving(ChunkIndex(1), from: Fixtures.peer(6001), bytes: 1 << 20), at: 1)
        state.reduce(.fetched(ChunkIndex(1), from: Fixtures.peer(6001), bytes: 1 << 20, seconds: 1), at: 1)
        state.tick(at: 2)
        // 3 chunks of 1 MiB left at 1 MiB/s.
        #expect(state.eta.map { Int($0.rounded()) } == 3)
    }

    @Test func trackerRetryCountsDown() {
        var state = started()
        state.reduce(.tracker(.retrying(in: .seconds(3), reason: "refused")), at: 10)
        #expect(state.trackerRetryAt == 13)
        state.reduce(.tracker(.connected(fastPath: true)), at: 13)
        #expect(state.trackerRetryAt == nil)
    }

    /// The address a tracker link registered us under is in the header, beside the tracker.
    @Test func theRegisteredAddressIsShown() {
        var state = started()
        state.trackerAddress = "198.18.0.2:5100"
        state.reduce(.tracker(.connected(fastPath: true)), at: 1)
        let tracker = PeerAddress(host: "198.18.0.2", port: 5100)!
        state.reduce(.advertising(PeerAddress(host: "198.18.0.3", port: 6001)!, tracker: tracker), at: 1)
        let header = SwarmScreen.render(state, theme: Theme(color: false, unicode: true), width: 120, height: 24).canvas.lines[0]
        #expect(header.contains("tracker 198.18.0.2:5100 connected as 198.18.0.3:6001  folder f"), "\(header)")
    }

    @Test func pauseAndResumeAreShown() {
        var state = started()
        state.reduce(.paused(true), at: 1)
        #expect(state.paused)
        state.reduce(.paused(false), at: 2)
        #expect(!state.paused)
    }

    @Test func logKeepsTheNewestLinesAndScrollsBack() {
        var state = started()
        for number in 0..<(UIState.logCapacity + 10) { state.appendLog("line \(number)") }
        #expect(state.log.count == UIState.logCapacity)
        #expect(state.log.last?.text == "line \(UIState.logCapacity + 9)")
        _ = state.apply(.scroll(10))
        #expect(state.logScroll == 10)
        _ = state.apply(.scroll(-100))
        #expect(state.logScroll == 0)
    }

    @Test func requestIsValidatedWithAnAnswerInTheStatusLine() {
        var state = started(total: 8, held: [1])
        #expect(state.apply(.startRequest) == nil)
        _ = state.apply(.typeDigit("9"))
        #expect(state.apply(.submitRequest) == nil)
        #expect(state.status?.text == "no chunk 9: chunks are 1–8")
        #expect(state.status?.isError == true)
        _ = state.apply(.startRequest)
        _ = state.apply(.typeDigit("1"))
        #expect(state.apply(.submitRequest) == nil)
        #expect(state.status?.text == "chunk 1 is already here")
        _ = state.apply(.startRequest)
        _ = state.apply(.typeDigit("3"))
        #expect(state.apply(.submitRequest) == .request(3))
        #expect(state.mode == .normal)
    }

    @Test func cursorMovesByCellsAndRowsAndStaysOnTheMap() {
        var state = started(total: 20)
        _ = state.apply(.moveCursor(dx: 0, dy: 1), mapColumns: 6)
        #expect(state.cursor == 7)
        _ = state.apply(.moveCursor(dx: -1, dy: 0), mapColumns: 6)
        #expect(state.cursor == 6)
        _ = state.apply(.moveCursor(dx: 0, dy: 10), mapColumns: 6)
        #expect(state.cursor == 20)
        _ = state.apply(.moveCursor(dx: -1, dy: -10), mapColumns: 6)
        #expect(state.cursor == 1)
        #expect(state.apply(.fetchCursor) == nil, "chunk 1 is held")
        _ = state.apply(.moveCursor(dx: 1, dy: 0), mapColumns: 6)
        #expect(state.apply(.fetchCursor) == .request(2))
    }
}
