import NIOCore
import SwarmProtocol
import Testing

@testable import SwarmTracker

@Suite struct TrackerRegistryTests {
    static let good = SHA1Digest(hex: String(repeating: "a", count: 40))!
    static let bad = SHA1Digest(hex: String(repeating: "b", count: 40))!
    static func peer(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port)! }
    let three = ChunkIndex(3)

    @Test func unknownChunkIsUnknown() {
        #expect(TrackerRegistry().answer(for: three) == .chunkLocationUnknown(three))
    }

    @Test func everyHolderIsListedOnceInReportOrder() {
        let registry = TrackerRegistry()
        #expect(registry.register(three, Self.good, holder: Self.peer(6001)) == .added)
        #expect(registry.register(three, Self.good, holder: Self.peer(6002)) == .added)
        #expect(registry.register(three, Self.good, holder: Self.peer(6001)) == .unchanged)
        #expect(registry.answer(for: three) == .getChunkFrom(three, Self.good, holders: [Self.peer(6001), Self.peer(6002)]))
        #expect(registry.registrationCount == 2)
    }

    @Test func majorityDigestWinsAndOnlyItsHoldersAreListed() {
        let registry = TrackerRegistry()
        registry.register(three, Self.bad, holder: Self.peer(6001))
        registry.register(three, Self.good, holder: Self.peer(6002))
        registry.register(three, Self.good, holder: Self.peer(6003))
        #expect(registry.answer(for: three) == .getChunkFrom(three, Self.good, holders: [Self.peer(6002), Self.peer(6003)]))
        #expect(registry.digests(for: three).map(\.holders) == [2, 1])
    }

    @Test func tieGoesToTheDigestReportedFirst() {
        let registry = TrackerRegistry()
        registry.register(three, Self.bad, holder: Self.peer(6001))
        registry.register(three, Self.good, holder: Self.peer(6002))
        #expect(registry.answer(for: three) == .getChunkFrom(three, Self.bad, holders: [Self.peer(6001)]))
    }

    @Test func quorumOfTwoListsAChunkOnlyOnceTwoHoldersAgree() {
        let registry = TrackerRegistry(quorum: 2)
        registry.register(three, Self.good, holder: Self.peer(6001))
        registry.register(three, Self.bad, holder: Self.peer(6002))
        #expect(registry.answer(for: three) == .chunkLocationUnknown(three))
        registry.register(three, Self.good, holder: Self.peer(6003))
        #expect(registry.answer(for: three) == .getChunkFrom(three, Self.good, holders: [Self.peer(6001), Self.peer(6003)]))
    }

    @Test func holderThatChangesItsDigestIsCountedOnce() {
        let registry = TrackerRegistry()
        registry.register(three, Self.bad, holder: Self.peer(6001))
        #expect(registry.register(three, Self.good, holder: Self.peer(6001)) == .changedDigest(from: Self.bad))
        #expect(registry.answer(for: three) == .getChunkFrom(three, Self.good, holders: [Self.peer(6001)]))
    }

    @Test func forgettingAHolderRemovesAllItsChunks() {
        let registry = TrackerRegistry()
        registry.register(three, Self.good, holder: Self.peer(6001))
        registry.register(ChunkIndex(4), Self.good, holder: Self.peer(6001))
        registry.register(ChunkIndex(4), Self.good, holder: Self.peer(6002))
        #expect(registry.forget(holder: Self.peer(6001)) == 2)
        #expect(registry.answer(for: three) == .chunkLocationUnknown(three))
        #expect(registry.answer(for: ChunkIndex(4)) == .getChunkFrom(ChunkIndex(4), Self.good, holders: [Self.peer(6002)]))
    }

    /// The ready answer is kept between questions; every change of the chunk's holders must
    /// replace it.
    @Test func readyAnswersFollowEveryChange() {
        let registry = TrackerRegistry()
        func expectReadyAnswerIsCurrent(_ comment: Comment) {
            let ready = registry.wireAnswer(for: three)
            #expect(ready.text == registry.answer(for: three).wireText, comment)
            #expect(ready.bytes == ByteBuffer(string: ready.text + "\n"), comment)
        }
        expectReadyAnswerIsCurrent("nobody holds it")
        registry.register(three, Self.good, holder: Self.peer(6001))
        expectReadyAnswerIsCurrent("first holder")
        registry.register(three, Self.good, holder: Self.peer(6002))
        expectReadyAnswerIsCurrent("second holder")
        registry.register(three, Self.good, holder: Self.peer(6002))
        expectReadyAnswerIsCurrent("same report again")
        registry.register(three, Self.bad, holder: Self.peer(6001))
        expectReadyAnswerIsCurrent("a holder changed its digest")
        registry.register(ChunkIndex(4), Self.good, holder: Self.peer(6003))
        registry.forget(holder: Self.peer(6002))
        expectReadyAnswerIsCurrent("a holder forgotten")
        registry.forget(holder: Self.peer(6001))
        #expect(registry.wireAnswer(for: three).text == "CHUNK_LOCATION_UNKNOWN,3")
    }

    /// Registrations are stored compactly (holders numbered, digests as raw bytes, one holder
    /// inline): every answer and count must still be exact, and a forgotten holder's number,
    /// reused by another, must not bring the first back.
    @Test func compactStorageKeepsAnswersAndCountsExact() {
        let registry = TrackerRegistry()
        let digest = SHA1Digest(hex: "0123456789abcdef0f1e2d3c4b5a69788796a5b4")!
        registry.register(ChunkIndex(9), digest, holder: Self.peer(7001))
        #expect(registry.wireAnswer(for: ChunkIndex(9)).text == "GET_CHUNK_FROM,9,0123456789abcdef0f1e2d3c4b5a69788796a5b4,127.0.0.1,7001")
        #expect(registry.digests(for: ChunkIndex(9)).map(\.digest) == [digest])
        registry.register(ChunkIndex(10), digest, holder: Self.peer(7001))
        #expect(registry.registrationCount == 2 && registry.chunkCount == 2 && registry.holders == [Self.peer(7001)])
        #expect(registry.forget(holder: Self.peer(7001)) == 2)
        registry.register(ChunkIndex(11), Self.good, holder: Self.peer(7002))
        #expect(registry.holders == [Self.peer(7002)] && registry.registrationCount == 1)
        #expect(registry.answer(for: ChunkIndex(9)) == .chunkLocationUnknown(ChunkIndex(9)))
        #expect(registry.answer(for: ChunkIndex(11)) == .getChunkFrom(ChunkIndex(11), Self.good, holders: [Self.peer(7002)]))
        #expect(registry.forget(holder: Self.peer(7001)) == 0, "a forgotten holder has nothing left")
    }
}
