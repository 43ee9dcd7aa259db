import NIOCore
import Testing

@testable import SwarmProtocol

@Suite struct MessageFramerTests {
    /// Frames everything in `chunks`, fed one after the other, as a receiver would; end of stream last.
    static func frames(
        _ chunks: [String],
        newlines: MessageFramer.NewlinePolicy = .alwaysEnd,
        pauseAfterEach: Bool = false
    ) throws -> [String] {
        let framer = MessageFramer(newlines: newlines)
        var buffer = ByteBuffer()
        var out: [String] = []
        let isWhole: (String) -> Bool = { (try? TrackerRequest(parsing: $0)) != nil || (try? TrackerAnswer(parsing: $0)) != nil }
        for chunk in chunks {
            buffer.writeString(chunk)
            while let frame = try framer.nextFrame(in: &buffer, isWhole: isWhole) { out.append(frame.text) }
            if pauseAfterEach {
                while let frame = try framer.nextFrame(in: &buffer, senderPaused: true, isWhole: isWhole) { out.append(frame.text) }
            }
        }
        while let frame = try framer.nextFrame(in: &buffer, atEndOfStream: true, isWhole: isWhole) { out.append(frame.text) }
        return out
    }

    static let stream = "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,localhost,6001WHERE_CHUNK,12\nWHERE_CHUNK,3"
    static let expected = [
        "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,localhost,6001", "WHERE_CHUNK,12", "WHERE_CHUNK,3",
    ]

    @Test func gluedMessagesSplitAtTheNextVerb() throws {
        #expect(try Self.frames([Self.stream]) == Self.expected)
    }

    @Test func inputSplitAtEveryPositionDecodesTheSame() throws {
        for cut in 0...Self.stream.utf8.count {
            let bytes = Array(Self.stream.utf8)
            let parts = [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
            #expect(try Self.frames(parts) == Self.expected, "cut at \(cut)")
        }
    }

    @Test func dripFedOneByteAtATimeDecodesTheSame() throws {
        #expect(try Self.frames(Self.stream.map(String.init)) == Self.expected)
    }

    @Test func randomSplitsDecodeTheSame() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = Array(Self.stream.utf8)
        for _ in 0..<200 {
            var parts: [String] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 1...20, using: &generator))
                parts.append(String(decoding: bytes[start..<end], as: UTF8.self))
                start = end
            }
            #expect(try Self.frames(parts) == Self.expected)
        }
    }

    @Test func unterminatedWholeMessageEndsWhenTheSenderPauses() throws {
        let framer = MessageFramer(newlines: .alwaysEnd)
        var buffer = ByteBuffer(string: "WHERE_CHUNK,4")
        let isWhole: (String) -> Bool = { (try? TrackerRequest(parsing: $0)) != nil }
        #expect(try framer.nextFrame(in: &buffer, isWhole: isWhole) == nil, "could still become WHERE_CHUNK,42")
        #expect(try framer.nextFrame(in: &buffer, senderPaused: true, isWhole: isWhole)?.text == "WHERE_CHUNK,4")
    }

    @Test func incompleteMessageIsNotCutByAPause() throws {
        let framer = MessageFramer(newlines: .alwaysEnd)
        var buffer = ByteBuffer(string: "LOCAL_CHUNKS,1,2fd4")
        #expect(try framer.nextFrame(in: &buffer, senderPaused: true, isWhole: { (try? TrackerRequest(parsing: $0)) != nil }) == nil)
    }

    @Test func answersKeepStrayNewlinesInsideAndReportTheirTerminator() throws {
        let framer = MessageFramer(newlines: .endWholeMessage)
        let isWhole: (String) -> Bool = { (try? TrackerAnswer(parsing: $0)) != nil }
        var seedEra = ByteBuffer(string: "GET_CHUNK_FROM,3,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,localhost,6001\n,localhost,6002")
        #expect(try framer.nextFrame(in: &seedEra, isWhole: isWhole) == nil)
        let whole = try framer.nextFrame(in: &seedEra, senderPaused: true, isWhole: isWhole)
        #expect(whole?.terminated == false)
        #expect(try whole.map { try TrackerAnswer(parsing: $0.text) }.map { if case .getChunkFrom(_, _, let h) = $0 { h.count } else { 0 } } == 2)

        var ours = ByteBuffer(string: "CHUNK_LOCATION_UNKNOWN,5\n")
        #expect(try framer.nextFrame(in: &ours, isWhole: isWhole) == .init(text: "CHUNK_LOCATION_UNKNOWN,5", terminated: true))
    }

    @Test func overLongInputIsRefused() {
        let framer = MessageFramer(newlines: .alwaysEnd, maximumLength: 1024)
        var buffer = ByteBuffer(string: "WHERE_CHUNK," + String(repeating: "1", count: 4096))
        #expect(throws: WireError.tooLong(limit: 1024)) { try framer.nextFrame(in: &buffer, isWhole: { _ in false }) }
    }

    @Test(arguments: ["HELLO,1", "\u{0}\u{1}\u{2}garbage", "WHERE_CHUNKS,1", "GET / HTTP/1.1\r\n"])
    func unknownVerbsAreRefusedAtOnce(_ text: String) {
        let framer = MessageFramer(newlines: .alwaysEnd)
        var buffer = ByteBuffer(string: text)
        #expect(throws: WireError.self) { try framer.nextFrame(in: &buffer, isWhole: { _ in false }) }
    }
}
