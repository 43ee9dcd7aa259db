import NIOCore
import NIOEmbedded
import Testing

@testable import SwarmProtocol

@Suite struct MessageFramingHandlerTests {
    func makeChannel(newlines: MessageFramer.NewlinePolicy = .alwaysEnd) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            MessageFramingHandler<TrackerRequest>(newlines: newlines, quietPeriod: .milliseconds(10))
        )
        return channel
    }

    @Test func terminatedAndGluedMessagesComeOutParsed() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,3\nWHERE_CHUNK,4WHERE_CHUNK,5\n"))
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self)?.message == .whereChunk(ChunkIndex(3)))
        let second = try channel.readInbound(as: Framed<TrackerRequest>.self)
        #expect(second?.message == .whereChunk(ChunkIndex(4)))
        #expect(second?.terminated == false)
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self)?.message == .whereChunk(ChunkIndex(5)))
        #expect(try channel.finish().isClean)
    }

    @Test func aMessageSplitAcrossReadsIsJoined() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,1\nWHERE_CH"))
        try channel.writeInbound(ByteBuffer(string: "UNK,2"))
        try channel.writeInbound(ByteBuffer(string: "3\nWHERE_CHUNK,4\n"))
        let indexes = try (0..<3).map { _ in try channel.readInbound(as: Framed<TrackerRequest>.self)?.message }
        #expect(indexes == [.whereChunk(ChunkIndex(1)), .whereChunk(ChunkIndex(23)), .whereChunk(ChunkIndex(4))])
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func unterminatedMessageIsDeliveredAfterTheQuietPeriod() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,7"))
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(5))
        try channel.writeInbound(ByteBuffer(string: "1"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(9))
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self) == nil, "the timer restarts with every read")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2))
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self)?.message == .whereChunk(ChunkIndex(71)))
        #expect(try channel.finish().isClean)
    }

    @Test func endOfStreamDeliversTheLastMessage() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,8"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self)?.message == .whereChunk(ChunkIndex(8)))
        _ = try channel.finish()
    }

    @Test func garbageFiresAnErrorAndNothingAfterIsDecoded() throws {
        let channel = try makeChannel()
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(string: "\u{7f}ELF binary")) }
        try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,1\n"))
        #expect(try channel.readInbound(as: Framed<TrackerRequest>.self) == nil)
        _ = try channel.finish()
    }

    @Test func badFieldsFireAnError() throws {
        let channel = try makeChannel()
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(string: "WHERE_CHUNK,-4\n")) }
        _ = try channel.finish()
    }
}
