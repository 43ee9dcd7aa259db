import SwarmProtocol
import Testing

@testable import SwarmCore

/// Picker tests written as specs: one character per chunk, as libtorrent's picker tests do.
@Suite struct ChunkPickerTests {
    /// `held: "#.#."` → chunks 1 and 3 held; `availability: "0?21"` → holders per chunk, `?` not located.
    static func input(held: String, availability: String = "", inFlight: String = "", slots: Int, paused: Bool = false, requested: [Int] = []) -> PickerInput {
        func indexes(_ pattern: String, _ mark: Character) -> Set<ChunkIndex> {
            Set(pattern.enumerated().filter { $0.element == mark }.map { ChunkIndex($0.offset + 1) })
        }
        var counts: [ChunkIndex: Int] = [:]
        for (offset, character) in availability.enumerated() where character != "?" {
            counts[ChunkIndex(offset + 1)] = character.wholeNumberValue
        }
        return PickerInput(
            total: held.count,
            held: indexes(held, "#"),
            inFlight: indexes(inFlight, "*"),
            availability: counts,
            requested: requested.map(ChunkIndex.init),
            paused: paused,
            freeSlots: slots
        )
    }

    func plan(_ input: PickerInput) -> [Int] {
        var generator = SplitMix64(seed: 7)
        return ChunkPicker.plan(input, using: &generator).map(\.value)
    }

    @Test func picksRarestChunkFirst() {
        #expect(plan(Self.input(held: "....", availability: "3122", slots: 1)) == [2])
        #expect(plan(Self.input(held: "....", availability: "3122", slots: 4)).prefix(3).sorted() == [2, 3, 4])
        #expect(plan(Self.input(held: "....", availability: "3122", slots: 4)).last == 1)
    }

    @Test func neverPicksHeldOrInFlightChunks() {
        let picks = plan(Self.input(held: "#..#", availability: "1111", inFlight: ".*..", slots: 4))
        #expect(picks == [3])
    }

    @Test func chunksNotLocatedYetComeAfterKnownOnesAndNowhereLast() {
        #expect(plan(Self.input(held: "...", availability: "?02", slots: 3)) == [3, 1, 2])
    }

    @Test func respectsFreeSlots() {
        #expect(plan(Self.input(held: "......", slots: 0)).isEmpty)
        #expect(plan(Self.input(held: "......", slots: 2)).count == 2)
    }

    @Test func pausedPicksOnlyRequestedChunks() {
        #expect(plan(Self.input(held: "....", availability: "1111", slots: 4, paused: true)).isEmpty)
        #expect(plan(Self.input(held: "....", availability: "1111", slots: 4, paused: true, requested: [3])) == [3])
    }

    @Test func requestedChunksGoFirst() {
        #expect(plan(Self.input(held: "....", availability: "1119", slots: 1, requested: [4])) == [4])
    }

    @Test func tieBreakIsRandomSoPeersSpreadOut() {
        let input = Self.input(held: "........", availability: "11111111", slots: 1)
        var firstPicks = Set<Int>()
        for seed in 0..<50 {
            var generator = SplitMix64(seed: UInt64(seed))
            firstPicks.formUnion(ChunkPicker.plan(input, using: &generator).map(\.value))
        }
        #expect(firstPicks.count > 3)
    }

    @Test func invariantsHoldOnRandomSnapshots() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<500 {
            let total = Int.random(in: 1...40, using: &generator)
            let held = String((0..<total).map { _ in Bool.random(using: &generator) ? "#" : "." })
            let flight = String((0..<total).map { _ in Int.random(in: 0..<4, using: &generator) == 0 ? "*" : "." })
            let input = Self.input(held: held, inFlight: flight, slots: Int.random(in: 0...6, using: &generator))
            let picks = ChunkPicker.plan(input, using: &generator)
            #expect(picks.count <= input.freeSlots)
            #expect(Set(picks).count == picks.count)
            #expect(picks.allSatisfy { !input.held.contains($0) && !input.inFlight.contains($0) && $0.value <= total })
        }
    }

    /// The picks are the rarest candidates: their ranks are the smallest ranks of all candidates,
    /// in order, checked against sorting every candidate.
    @Test func picksMatchSortingEveryCandidateByRank() {
        var generator = SplitMix64(seed: 9)
        for _ in 0..<500 {
            let total = Int.random(in: 1...60, using: &generator)
            var availability: [ChunkIndex: Int] = [:]
            for value in 1...total where Int.random(in: 0..<5, using: &generator) > 0 {
                availability[ChunkIndex(value)] = Int.random(in: 0...4, using: &generator)
            }
            let held = Set((1...total).filter { _ in Int.random(in: 0..<4, using: &generator) == 0 }.map(ChunkIndex.init))
            let input = PickerInput(total: total, held: held, availability: availability, freeSlots: Int.random(in: 1...8, using: &generator))
            let rank = { (index: ChunkIndex) in input.availability[index].map { $0 > 0 ? $0 : Int.max } ?? Int.max - 1 }
            let expected = (1...total).map(ChunkIndex.init).filter { !held.contains($0) }.map(rank).sorted().prefix(input.freeSlots)
            #expect(ChunkPicker.plan(input, using: &generator).map(rank) == Array(expected))
        }
    }

    @Test func sequentialTakesTheLowestChunkWithAHolder() {
        let input = PickerInput(
            total: 6, held: [ChunkIndex(1)], availability: [ChunkIndex(2): 5, ChunkIndex(3): 0, ChunkIndex(4): 1, ChunkIndex(6): 1],
            freeSlots: 2, sequential: true)
        #expect(ChunkPicker.plan(input) == [ChunkIndex(2), ChunkIndex(4)], "chunk 3 has no holder; chunk 2 goes first though it is common")
        var rarest = input
        rarest.sequential = false
        #expect(Set(ChunkPicker.plan(rarest)) == [ChunkIndex(4), ChunkIndex(6)])
    }
}
