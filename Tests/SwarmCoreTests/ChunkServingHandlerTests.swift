import NIOCore
import NIOEmbedded
import NIOPosix
import SwarmProtocol
import Synchronization
import Testing

@testable import SwarmCore

@Suite struct ChunkServingHandlerTests {
    final class Reports: Sendable {
        let all = Mutex<[ServeReport]>([])
    }

    func makeChannel(reports: Reports) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(
            MessageFramingHandler<PeerRequest>(newlines: .alwaysEnd),
            ChunkServingHandler(
                lookup: { $0.value == 1 ? "/nonexistent/chunk_1" : nil },
                onServe: { report in reports.all.withLock { $0.append(report) } },
                fileIO: NonBlockingFileIO(threadPool: .singleton),
                requestTimeout: .seconds(10)
            )
        )
        return channel
    }

    @Test(arguments: ["REQUEST_CHUNK,2", "REQUEST_CHUNK,0\n", "REQUEST_CHUNK,-1\n", "REQUEST_CHUNK,abc\n", "WHERE_CHUNK,1\n"])
    func unlistedOrBadRequestsCloseWithNoData(_ request: String) throws {
        let reports = Reports()
        let channel = try makeChannel(reports: reports)
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(!channel.isActive)
        #expect(try channel.readOutbound(as: IOData.self) == nil, "nothing sent")
        let outcomes = reports.all.withLock { $0.map(\.outcome) }
        #expect(outcomes.count == 1)
        if case .refused = outcomes.first {} else { Issue.record("expected a refusal, got \(outcomes)") }
        _ = try? channel.finish()
    }

    @Test func silentClientIsTimedOut() throws {
        let reports = Reports()
        let channel = try makeChannel(reports: reports)
        channel.embeddedEventLoop.advanceTime(by: .seconds(11))
        #expect(!channel.isActive)
        #expect(reports.all.withLock { $0.first?.outcome } == .refused(reason: "no request within 10 s"))
        _ = try? channel.finish()
    }
}
