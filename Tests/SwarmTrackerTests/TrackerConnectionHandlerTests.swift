import Logging
import NIOCore
import NIOEmbedded
import SwarmProtocol
import Synchronization
import Testing

@testable import SwarmTracker

@Suite struct TrackerConnectionHandlerTests {
    let registry = TrackerRegistry()

    /// The lines given to the handler's ``MessageLog``.
    let recorded = RecordedLines()

    func makeChannel(limits: TrackerLimits = TrackerLimits()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(
            MessageFramingHandler<TrackerRequest>(newlines: .alwaysEnd),
            TrackerConnectionHandler(
                registry: registry,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                messages: MessageLog { [recorded] in recorded.append($0) },
                limits: limits
            )
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return channel
    }

    func readAnswer(_ channel: EmbeddedChannel) throws -> String? {
        guard var buffer = try channel.readOutbound(as: ByteBuffer.self) else { return nil }
        return buffer.readString(length: buffer.readableBytes)
    }

    @Test func registersThenAnswersWithATerminatedAnswer() throws {
        let channel = try makeChannel()
        let digest = String(repeating: "c", count: 40)
        try channel.writeInbound(ByteBuffer(string: "LOCAL_CHUNKS,2,\(digest),localhost,6001\nWHERE_CHUNK,2\n"))
        #expect(try readAnswer(channel) == "GET_CHUNK_FROM,2,\(digest),localhost,6001\n")
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,9\n"))
        #expect(try readAnswer(channel) == "CHUNK_LOCATION_UNKNOWN,9\n")
        #expect(try channel.finish().isClean)
    }

    @Test func everyQuestionAndAnswerIsRecordedInTheMessageLog() throws {
        let channel = try makeChannel()
        let digest = String(repeating: "c", count: 40)
        try channel.writeInbound(ByteBuffer(string: "LOCAL_CHUNKS,2,\(digest),localhost,6001\nWHERE_CHUNK,2\nWHERE_CHUNK, 9\n"))
        #expect(recorded.lines == [
            "LOCAL_CHUNKS,2,\(digest),localhost,6001", "WHERE_CHUNK,2", "GET_CHUNK_FROM,2,\(digest),localhost,6001",
            "WHERE_CHUNK,9", "CHUNK_LOCATION_UNKNOWN,9",
        ])
        _ = try channel.finish()
    }

    @Test func pipelinedQuestionsAreAnsweredInOrderWithOneFlush() throws {
        let channel = try makeChannel()
        let flushes = FlushCounter()
        try channel.pipeline.syncOperations.addHandler(flushes, position: .first)
        try channel.writeInbound(ByteBuffer(string: (1...100).map { "WHERE_CHUNK,\($0)\n" }.joined()))
        var answers: [String] = []
        while let answer = try readAnswer(channel) { answers.append(answer) }
        #expect(answers == (1...100).map { "CHUNK_LOCATION_UNKNOWN,\($0)\n" })
        #expect(flushes.count == 1, "one flush for the whole burst")
        #expect(try channel.finish().isClean)
    }

    @Test func answersBeforeBadInputAreSentBeforeTheConnectionCloses() throws {
        let channel = try makeChannel()
        _ = try? channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,5\nHELLO,1\n"))
        #expect(try readAnswer(channel) == "CHUNK_LOCATION_UNKNOWN,5\n")
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test func seedStyleUnterminatedQuestionIsAnsweredAfterThePause() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,4"))
        #expect(try readAnswer(channel) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        #expect(try readAnswer(channel) == "CHUNK_LOCATION_UNKNOWN,4\n")
        _ = try channel.finish()
    }

    @Test(arguments: [
        "LOCAL_CHUNKS,0,\(String(repeating: "c", count: 40)),127.0.0.1,6000\n",
        "LOCAL_CHUNKS,1,nothex,127.0.0.1,6000\n",
        "LOCAL_CHUNKS,1,\(String(repeating: "c", count: 40)),127.0.0.1,99999\n",
        "LOCAL_CHUNKS,1,\(String(repeating: "c", count: 40)),not a host,6000\n",
        "REQUEST_CHUNK,1\n",
        "\u{0}\u{ff}binary",
        String(repeating: "W", count: 4096),
    ])
    func badInputClosesTheConnectionAndChangesNothing(_ input: String) throws {
        let channel = try makeChannel()
        _ = try? channel.writeInbound(ByteBuffer(string: input))
        #expect(!channel.isActive, "connection closed")
        #expect(registry.registrationCount == 0)
        _ = try? channel.finish()
    }

    @Test func silentConnectionIsClosedAfterTheIdleTimeout() throws {
        let channel = try makeChannel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test func persistentClientLinkIdleWhileSeedingStaysOpen() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,1\n"))
        _ = try readAnswer(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(3600))
        #expect(channel.isActive)
        #expect(try channel.finish().isClean)
    }

    @Test func registrationsPerConnectionAreCapped() throws {
        var limits = TrackerLimits()
        limits.maxRegistrationsPerConnection = 3
        let channel = try makeChannel(limits: limits)
        let digest = String(repeating: "d", count: 40)
        for index in 1...5 where channel.isActive {
            try channel.writeInbound(ByteBuffer(string: "LOCAL_CHUNKS,\(index),\(digest),127.0.0.1,6000\n"))
        }
        #expect(!channel.isActive)
        #expect(registry.registrationCount == 3)
        _ = try? channel.finish()
    }
}

/// Counts flushes going out of the pipeline.
private final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    private(set) var count = 0

    func flush(context: ChannelHandlerContext) {
        count += 1
        context.flush()
    }
}

/// Lines collected from any thread.
final class RecordedLines: Sendable {
    private let storage = Mutex<[String]>([])

    func append(_ line: String) { storage.withLock { $0.append(line) } }

    var lines: [String] { storage.withLock { $0 } }
}
