import Foundation
import NIOCore
import Testing

@testable import SwarmProtocol

/// Property-based fuzzing of everything that reads untrusted bytes: the framer with every message
/// type, and the `local_chunks.txt` parser. Inputs are random bytes and mutations of valid input,
/// split at random points. The properties: no crash, no hang (every step consumes bytes or stops),
/// and every refusal is a typed error. `swift test` runs a bounded sample; `scripts/fuzz.sh` runs
/// a million inputs (`SWARM_FUZZ_ITERATIONS`).
@Suite struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["SWARM_FUZZ_ITERATIONS"] ?? "") ?? 500
    static let seeds = [
        "LOCAL_CHUNKS,1,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,127.0.0.1,6001", "WHERE_CHUNK,12\n",
        "GET_CHUNK_FROM,3,2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,localhost,6001,::1,6002",
        "CHUNK_LOCATION_UNKNOWN,9", "REQUEST_CHUNK,4", "1,chunk_1\n2,chunk_2\r\n4,LASTCHUNK\n",
    ].map { Array($0.utf8) }
    static let alphabet = Array("0123456789abcdef,.:\n\r -_/LASTCHUNKWHERE".utf8)

    /// A random input: raw bytes, or a valid one mutated a few times.
    static func input<R: RandomNumberGenerator>(_ random: inout R) -> [UInt8] {
        if Int.random(in: 0..<5, using: &random) == 0 {
            return (0..<Int.random(in: 0..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        var bytes = seeds.randomElement(using: &random)!
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            let byte = Bool.random(using: &random) ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes.insert(byte, at: position)
            case 1: if !bytes.isEmpty { bytes.remove(at: position) }
            case 2: if !bytes.isEmpty { bytes[position] = byte }
            case 3: bytes += seeds.randomElement(using: &random)!
            default: bytes.insert(contentsOf: Array(repeating: byte, count: Int.random(in: 1...1100, using: &random)), at: position)
            }
        }
        return bytes
    }

    /// Feeds `bytes` in random pieces, with pauses and end of stream, parsing every frame as `M`.
    static func frame<M: WireMessage, R: RandomNumberGenerator>(_ bytes: [UInt8], as type: M.Type, newlines: MessageFramer.NewlinePolicy, _ random: inout R) {
        let framer = MessageFramer(newlines: newlines)
        var buffer = ByteBuffer()
        var offset = 0
        let isWhole: (String) -> Bool = { (try? M(parsing: $0)) != nil }
        do {
            while offset < bytes.count {
                let end = min(bytes.count, offset + Int.random(in: 1...64, using: &random))
                buffer.writeBytes(bytes[offset..<end])
                offset = end
                let paused = Bool.random(using: &random)
                var steps = 0
                while let frame = try framer.nextFrame(in: &buffer, senderPaused: paused, isWhole: isWhole) {
                    steps += 1
                    precondition(steps <= bytes.count + 1, "the framer stopped consuming bytes")
                    _ = try? M(parsing: frame.text)
                }
            }
            var steps = 0
            while let frame = try framer.nextFrame(in: &buffer, atEndOfStream: true, isWhole: isWhole) {
                steps += 1
                precondition(steps <= bytes.count + 1, "the framer stopped consuming bytes")
                _ = try? M(parsing: frame.text)
            }
        } catch {
            // A WireError is the one way to refuse: anything else fails to compile (typed throws).
            _ = error as WireError
        }
    }

    @Test func framersAndParsersSurviveRandomInput() {
        var random = SystemRandomNumberGenerator()
        var refusedLists = 0
        for _ in 0..<Self.iterations {
            let bytes = Self.input(&random)
            Self.frame(bytes, as: TrackerRequest.self, newlines: .alwaysEnd, &random)
            Self.frame(bytes, as: TrackerAnswer.self, newlines: .endWholeMessage, &random)
            Self.frame(bytes, as: PeerRequest.self, newlines: .alwaysEnd, &random)
            do {
                let list = try ChunkList(parsing: String(decoding: bytes, as: UTF8.self))
                // Whatever is accepted round-trips through the writer and names no path outside.
                #expect(try ChunkList(parsing: list.text).files == list.files)
                #expect(list.files.values.allSatisfy { ChunkList.problem(withName: $0) == nil })
            } catch {
                refusedLists += 1
            }
        }
        #expect(refusedLists > 0, "the sample reached the refusal paths")
    }
}
