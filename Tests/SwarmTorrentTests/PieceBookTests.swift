import Testing
import TorrentProtocol

@testable import SwarmTorrent

@Suite struct PieceBookTests {
    /// Four pieces of 32 KiB (two blocks each) and a last one of 20 KiB (two blocks).
    func book(held: [Int] = []) -> PieceBook {
        var field = Bitfield(count: 5)
        for piece in held { field[piece] = true }
        return PieceBook(pieceCount: 5, pieceLength: 32 << 10, totalLength: (4 * 32 + 20) << 10, held: field)
    }

    let everything = Bitfield.full(count: 5)

    @Test func blocksAreSixteenKiBAndTheLastIsShorter() {
        let book = book()
        #expect(book.blockCount(ofPiece: 0) == 2 && book.blockCount(ofPiece: 4) == 2)
        #expect(book.request(piece: 4, block: 1) == BlockRequest(piece: 4, begin: 16 << 10, length: 4 << 10))
        #expect(book.bytesLeft == (4 * 32 + 20) << 10)
    }

    @Test func requestsFinishPiecesUnderWayBeforeStartingOthers() {
        var book = book()
        let first = book.nextRequests(for: 1, peerHas: everything, count: 1)
        #expect(first.count == 1)
        let next = book.nextRequests(for: 2, peerHas: everything, count: 1)
        #expect(next == [book.request(piece: first[0].piece, block: 1)], "the other block of the same piece")
    }

    @Test func onlyPiecesThePeerHasAreAskedAndHeldOnesNever() {
        var book = book(held: [0, 1])
        var has = Bitfield(count: 5)
        has[1] = true
        has[3] = true
        let requests = book.nextRequests(for: 1, peerHas: has, count: 10)
        #expect(Set(requests.map(\.piece)) == [3])
    }

    @Test func rarestPieceComesFirst() {
        var book = book()
        book.peerHas([0, 1, 2, 3, 4])
        book.peerHas([0, 1, 3, 4])
        book.peerHas([0, 1, 3, 4])
        let requests = book.nextRequests(for: 1, peerHas: everything, count: 2)
        #expect(requests.map(\.piece) == [2, 2], "piece 2 is held by one peer, the others by three")
    }

    @Test func theUsersPieceComesFirstEvenWhilePaused() {
        var book = book()
        book.paused = true
        #expect(book.nextRequests(for: 1, peerHas: everything, count: 4).isEmpty)
        let accepted = book.prioritise(3)
        #expect(accepted)
        #expect(book.nextRequests(for: 1, peerHas: everything, count: 4).map(\.piece) == [3, 3])
        var held = self.book(held: [3])
        let refused = !held.prioritise(3)
        #expect(refused, "already held")
    }

    @Test func arrivalsAreMatchedToTheirRequests() {
        var book = book()
        let requests = book.nextRequests(for: 1, peerHas: everything, count: 2)
        let piece = requests[0].piece
        #expect(book.received(requests[0], from: 2) == .unrequested, "asked of peer 1, not 2")
        #expect(book.received(BlockRequest(piece: piece, begin: 100, length: 16 << 10), from: 1) == .unrequested)
        #expect(book.received(requests[0], from: 1) == .accepted(cancelAt: [], pieceComplete: false))
        #expect(book.received(requests[0], from: 1) == .duplicate)
        #expect(book.received(requests[1], from: 1) == .accepted(cancelAt: [], pieceComplete: true))
        #expect(book.verifying == [piece])
        book.checked(piece, matched: true)
        #expect(book.held[piece] && book.verifying.isEmpty)
    }

    @Test func aFailedPieceIsFetchedAgain() {
        var book = book(held: [0, 1, 2, 3])
        let requests = book.nextRequests(for: 1, peerHas: everything, count: 2)
        for request in requests { _ = book.received(request, from: 1) }
        book.checked(4, matched: false)
        #expect(!book.held[4])
        #expect(book.nextRequests(for: 2, peerHas: everything, count: 2) == requests)
    }

    @Test func aPeerLeavingGivesItsBlocksBack() {
        var book = book()
        let requests = book.nextRequests(for: 1, peerHas: everything, count: 3)
        book.release(1)
        #expect(book.progress.isEmpty, "nothing received: the pieces are no longer under way")
        #expect(book.nextRequests(for: 2, peerHas: everything, count: 3).count == requests.count)
    }

    @Test func theEndgameAsksASecondPeerAndCancelsTheLoser() {
        var book = book(held: [0, 1, 2, 3])
        let asked = book.nextRequests(for: 1, peerHas: everything, count: 10)
        #expect(asked.count == 2 && book.isEndgame)
        let duplicates = book.nextRequests(for: 2, peerHas: everything, count: 10)
        #expect(duplicates == asked, "every missing block is also asked of peer 2")
        #expect(book.received(asked[0], from: 2) == .accepted(cancelAt: [1], pieceComplete: false))
        #expect(book.received(asked[0], from: 1) == .duplicate)
    }
}

extension PieceBookTests {
    @Test func skippedPiecesAreNeverAskedAndUrgentOnesComeFirst() {
        var book = book()
        book.setWanted([true, false, true, true, true], urgent: [4])
        let requests = book.nextRequests(for: 1, peerHas: everything, count: 10)
        #expect(requests.first?.piece == 4, "the high-priority file's piece first")
        #expect(!requests.contains { $0.piece == 1 })
        #expect(!book.isFinished)
        var done = self.book(held: [0, 2, 3, 4])
        done.setWanted([true, false, true, true, true], urgent: [])
        #expect(done.isFinished && !done.isComplete && done.bytesLeft == 0)
    }

    /// What we want of a peer, so whether we are interested in it: neither what we hold nor what
    /// is skipped, unless the user asked for that piece.
    @Test func aPeerHoldingOnlySkippedOrHeldPiecesIsNotWanted() {
        var book = book(held: [0])
        book.setWanted([true, false, false, true, true], urgent: [])
        var has = Bitfield(count: 5)
        has[0] = true
        has[1] = true
        has[2] = true
        #expect(book.wantedCount(in: has) == 0, "held and skipped only")
        #expect(!book.wants(0) && !book.wants(1) && book.wants(3))
        has[4] = true
        #expect(book.wantedCount(in: has) == 1)
        let asked = book.prioritise(1)
        #expect(asked)
        #expect(book.wants(1) && book.wantedCount(in: has) == 2, "a skipped piece the user asked for is wanted")
        #expect(book.wantedCount(in: everything) == 3)
    }

    @Test func sequentialAsksInOrder() {
        var book = book()
        book.sequential = true
        book.peerHas([0, 1, 2, 3, 4])
        #expect(book.nextRequests(for: 1, peerHas: everything, count: 6).map(\.piece) == [0, 0, 1, 1, 2, 2])
    }
}

@Suite struct ChokerTests {
    let start = ContinuousClock.now

    @Test func theFastestInterestedPeersGetTheSlotsAndOneMoreRotates() {
        var choker = Choker()
        choker.slots = 2
        let peers = (1...6).map { Choker.Candidate(id: $0, interested: $0 != 6, rate: Double($0 * 100)) }
        let chosen = choker.unchoked(peers, now: start)
        #expect(chosen.isSuperset(of: [5, 4]) && chosen.count == 3 && !chosen.contains(6))
        let optimistic = chosen.subtracting([5, 4]).first!
        #expect(choker.unchoked(peers, now: start + .seconds(10)).contains(optimistic), "kept for its period")
        var rotated = Set<Int>()
        for round in 1...20 { rotated.formUnion(choker.unchoked(peers, now: start + .seconds(30 * round)).subtracting([5, 4])) }
        #expect(rotated.count > 1, "the optimistic slot moves on")
    }

    @Test func nobodyInterestedNobodyUnchoked() {
        var choker = Choker()
        #expect(choker.unchoked([Choker.Candidate(id: 1, interested: false, rate: 9)], now: start).isEmpty)
    }
}

@Suite struct ClientNameTests {
    @Test(arguments: [
        ("-LT2080-abcdefghijkl", "libtorrent 2.0.8.0"), ("-SW0100-abcdefghijkl", "Swarm 0.1.0.0"),
        ("A2-1-36-0-abcdefghij", "aria2 1.36.0"), ("-ZZ1234-abcdefghijkl", "ZZ 1.2.3.4"), ("M7-2-0--abcdefghijkl", "unknown"),
    ])
    func peerIDsNameTheirClient(_ id: String, _ name: String) {
        #expect(ClientName.from(peerID: Array(id.utf8)) == name)
    }
}
