import SwarmCore
import SwarmProtocol
import Testing

@testable import SwarmTUI

/// The log pane keeps what a user acts on; the peers pane keeps the port; the rate graph shows
/// the last minute.
@Suite struct LogAndGraphTests {
    let fetched = SwarmEvent.fetched(ChunkIndex(41), from: Fixtures.peer(34129), bytes: 256 << 10, seconds: 1.8)

    @Test func aFetchedLineIsWholeWhenItFitsAndCompactWhenNot() throws {
        let line = try #require(LogLine(fetched))
        #expect(line.text == "fetched chunk 41 from 127.0.0.1:34129: 256.0 KiB in 1.8 s (142.2 KiB/s)")
        #expect(line.fitted(to: 100) == line.text)
        #expect(line.fitted(to: 64) == "fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s from 127.0.0.1:34129")
        // Narrower: the host gives way before the port, the figures stay.
        #expect(line.fitted(to: 57) == "fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s from …1:34129")
        // Narrower still: the port alone, then the figures alone.
        #expect(line.fitted(to: 52) == "fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s :34129")
        #expect(line.fitted(to: 49) == "fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s")
        #expect(line.fitted(to: 30) == "fetched 41: 256.0 KiB in 1.8 s, 142.2 KiB/s", "the canvas cuts the end")
    }

    @Test func everyLineWithAPeerHasACompactFormEndingInIt() throws {
        let peer = Fixtures.peer(45617)
        let events: [SwarmEvent] = [
            .requested(ChunkIndex(3), from: peer),
            .fetched(ChunkIndex(3), from: peer, bytes: 1 << 20, seconds: 0.02),
            .failed(ChunkIndex(3), from: peer, reason: "unreachable: connection refused"),
            .abandoned(ChunkIndex(3), from: peer),
            .peerBanned(peer, badChunks: 3),
            .located(ChunkIndex(54), holders: [peer]),
            .served(ServeReport(index: ChunkIndex(3), peer: "127.0.0.1:45617", outcome: .served(bytes: 1024))),
            .served(ServeReport(index: nil, peer: "127.0.0.1:45617", outcome: .refused(reason: "chunk 9 is not listed"))),
        ]
        for event in events {
            let line = try #require(LogLine(event))
            #expect(line.text == event.logLine, "the whole line is the headless one")
            #expect(line.peer?.hasSuffix(":45617") == true && line.summary.count < line.text.count, "\(line)")
            #expect(line.fitted(to: line.summary.count + line.joiner.count + 7).hasSuffix("…:45617"), "\(line)")
        }
    }

    @Test func addressesShortenTheHostBeforeThePort() {
        #expect(Format.address("127.0.0.1:45817", width: 15) == "127.0.0.1:45817")
        #expect(Format.address("127.0.0.1:45817", width: 14) == "…7.0.0.1:45817")
        #expect(Format.address("seed.example.org:6000", width: 14) == "seed.exa…:6000")
        #expect(Format.address("[2001:db8::1]:6000", width: 12) == "…b8::1]:6000")
        #expect(Format.address("127.0.0.1:45817", width: 2) == "…:45817", "never shorter than the port")
        #expect(Format.address("127.0.0.1 (incoming)", width: 10) == "127.0.0.1 (incoming)", "no port: left to the canvas to cut")
    }

    @Test func peersPaneAtHundredColumnsKeepsThePort() {
        let lines = SwarmScreen.render(Fixtures.swarm(total: 64), theme: Theme(color: false, unicode: true), width: 100, height: 30).canvas.lines
        let peers = lines.filter { $0.hasPrefix("│") }.map { String($0.prefix(45)) }
        #expect(peers.contains { $0.contains(":45817 ") }, "\(peers.joined(separator: "\n"))")
        #expect(peers.contains { $0.contains(":6001 ") })
        // The log pane (55 columns) shows the fetch in its compact form, rate and all.
        #expect(lines.contains { $0.contains("fetched 4: 256.0 KiB in 1.8 s, 142.2 KiB/s") }, "\(lines.joined(separator: "\n"))")
    }

    @Test func locationLookUpsShowOnlyWithDetailOn() {
        var state = Fixtures.swarm(total: 64)
        #expect(state.log.contains { $0.isDetail }, "the fixture has look-ups")
        #expect(!state.shownLog.contains { $0.isDetail })
        let hidden = SwarmScreen.render(state, theme: Theme(color: false, unicode: true), width: 200, height: 60).canvas.lines.joined()
        #expect(!hidden.contains("chunk 7: no holder yet"))

        #expect(KeyMap.action(for: .character("d"), in: .normal) == .toggleDetail)
        _ = state.apply(.toggleDetail)
        #expect(state.showsDetail && state.status?.text.hasPrefix("detail on") == true)
        #expect(state.shownLog.count == state.log.count)
        let lines = SwarmScreen.render(state, theme: Theme(color: false, unicode: true), width: 200, height: 60).canvas.lines
        #expect(lines.joined().contains("chunk 2: 1 holder (127.0.0.1:6001)"))
        #expect(lines.last?.contains("d less") == true, "the footer says what d does now")
        _ = state.apply(.toggleDetail)
        #expect(!state.showsDetail)
    }

    @Test func scrollingCountsOnlyTheLinesShown() {
        var state = Fixtures.swarm(total: 64)
        _ = state.apply(.scroll(10_000))
        #expect(state.logScroll == state.shownLog.count - 1)
        // A hidden look-up arriving while scrolled back does not move what is on screen…
        state.reduce(.nowhere(ChunkIndex(1)), at: 63)
        #expect(state.logScroll == state.shownLog.count - 1)
        // …a shown line does.
        state.appendLog("shown")
        #expect(state.logScroll == state.shownLog.count - 1)
    }

    @Test func rateHistoryKeepsOneMinuteOfWholeSeconds() {
        var history = RateHistory()
        history.add(100, at: 0.2)
        history.add(50, at: 0.9)
        history.add(300, at: 2.5)
        history.add(7, at: 3.1)  // the second under way: not shown yet
        let samples = history.perSecond(at: 3.5)
        #expect(samples.count == RateHistory.seconds)
        #expect(Array(samples.suffix(3)) == [150, 0, 300])
        // A minute later the first seconds are gone; the ring is reused, not grown.
        history.add(1, at: 61.0)
        let kept: Double = 300 + 7 + 1
        #expect(history.perSecond(at: 62).reduce(0, +) == kept)
        #expect(history.perSecond(at: 200).allSatisfy { $0 == 0 })
        history.add(5, at: 0.5)  // older than the minute kept: dropped
        #expect(history.perSecond(at: 62).reduce(0, +) == kept)
    }

    @Test func graphResamplesAMinuteIntoTheColumnsItHas() {
        let minute = (0..<60).map(Double.init)
        #expect(RateGraphView.resample(minute, into: 80) == minute)
        let twenty = RateGraphView.resample(minute, into: 20)
        #expect(twenty.count == 20 && twenty.first == 1 && twenty.last == 58, "means of three seconds each")
        #expect(RateGraphView.resample(minute, into: 0).isEmpty)
    }

    @Test func graphSitsUnderThePeersOrBesideThemOrNowhere() {
        let tall = Rect(x: 1, y: 1, width: 40, height: 20)
        let (table, graph) = SwarmScreen.peersAndGraph(in: tall, peerCount: 3)
        #expect(graph?.height == RateGraphView.maximumHeight && graph.map { $0.y + $0.height } == 21)
        #expect(table.height >= 4)
        let wide = SwarmScreen.peersAndGraph(in: Rect(x: 1, y: 1, width: 78, height: 4), peerCount: 5)
        #expect(wide.graph?.width == 26 && wide.table.width == 51)
        #expect(SwarmScreen.peersAndGraph(in: Rect(x: 1, y: 1, width: 40, height: 4), peerCount: 5).graph == nil)
    }

    @Test func graphDrawsBarsAsHighAsEachSecondWasFast() {
        let state = Fixtures.swarm(total: 64)
        var canvas = Canvas(width: 64, height: 8)
        RateGraphView.draw(state, theme: Theme(color: true, unicode: true), in: Rect(x: 0, y: 0, width: 64, height: 8), canvas: &canvas)
        let lines = canvas.lines
        #expect(lines[0].hasPrefix("↓ 60 s, max 3.0 MiB/s"))
        // The stall from 30 to 35 s: five faint dots in the bottom row, nothing above them.
        #expect(lines[3].contains("█·····█") && lines[1].contains("█     █"), "\(lines.joined(separator: "\n"))")
        #expect(lines[4].hasPrefix("↑ 60 s, max 1.0 MiB/s"))
        #expect(canvas.cells.contains { $0.character == "█" && $0.style.color == .magenta })
        // ASCII terminals get ASCII bars.
        var ascii = Canvas(width: 64, height: 2)
        RateGraphView.draw(state, theme: Theme(color: false, unicode: false), in: Rect(x: 0, y: 0, width: 64, height: 2), canvas: &ascii)
        #expect(ascii.lines[0].hasPrefix("down ") && ascii.lines[0].contains("#") && ascii.lines.joined().allSatisfy(\.isASCII))
    }
}
