import Testing

@testable import TorrentProtocol

@Suite struct BencodeTests {
    func decode(_ text: String, sorted: Bool = true) throws -> Bencode { try Bencode.decode(Array(text.utf8), requireSortedKeys: sorted) }

    @Test func everyKindRoundTrips() throws {
        let samples = ["i0e", "i-42e", "i9223372036854775807e", "0:", "4:spam", "le", "li1e4:spame", "de", "d3:cow3:moo4:spamli1ei2eee", "d1:ad1:bld1:ci1eeeee"]
        for sample in samples {
            let value = try decode(sample)
            #expect(value.encoded() == Array(sample.utf8), "\(sample)")
        }
        #expect(try decode("d3:cow3:moo4:spamli1ei2eee")["cow"]?.text == "moo")
        #expect(try decode("d3:cow3:moo4:spamli1ei2eee")["spam"]?.list == [.integer(1), .integer(2)])
    }

    @Test func bytesNeedNotBeText() throws {
        let bytes: [UInt8] = [0x33, 0x3a, 0xff, 0x00, 0x80]
        let value = try Bencode.decode(bytes)
        #expect(value == .bytes([0xff, 0x00, 0x80]))
        #expect(value.text == nil)
        #expect(value.encoded() == bytes)
    }

    @Test(arguments: [
        ("i01e", "malformed integer"), ("i-0e", "malformed integer"), ("ie", "malformed integer"), ("i-e", "malformed integer"),
        ("i12", "ends in the middle"), ("i1x2e", "unexpected byte"), ("i99999999999999999999e", "malformed integer"),
        ("05:hello", "malformed string length"), ("5:abc", "runs past the end"), ("99999999999999999999:x", "malformed string length"),
        ("d1:bi1e1:ai2ee", "out of order"), ("d1:ai1e1:ai2ee", "appears twice"), ("di1ei2ee", "is not a string"),
        ("l", "ends in the middle"), ("x", "unexpected byte"), ("i1ei2e", "bytes after the value"), ("", "ends in the middle"),
    ])
    func strictnessRefusesWithTheReason(_ input: String, _ reason: String) {
        do {
            _ = try decode(input)
            Issue.record("\(input) was accepted")
        } catch {
            #expect("\(error)".contains(reason), "\(input): \(error)")
        }
    }

    @Test func trackerAnswersMayHaveUnsortedKeys() throws {
        let value = try decode("d5:peers0:8:intervali60ee", sorted: false)
        #expect(value["interval"]?.integer == 60)
        #expect(throws: BencodeError.self) { try decode("d5:peers0:8:intervali60ee") }
    }

    @Test func nestingIsBoundedAndDoesNotOverflowTheStack() {
        let deep = String(repeating: "l", count: 100_000) + String(repeating: "e", count: 100_000)
        #expect(throws: BencodeError.tooDeep(at: Bencode.maximumDepth)) { try decode(deep) }
        let fine = String(repeating: "l", count: Bencode.maximumDepth) + String(repeating: "e", count: Bencode.maximumDepth)
        #expect(throws: Never.self) { try decode(fine) }
    }

    @Test func hugeLengthsAreRefusedBeforeAllocating() {
        #expect(throws: BencodeError.lengthPastEnd(4_000_000_000, at: 0)) { try decode("4000000000:abc") }
    }

    @Test func rangesOfTopLevelValuesAreTheirRawBytes() throws {
        let text = "d8:announce3:url4:infod4:name1:xee"
        let (value, ranges) = try Bencode.decodeDictionaryWithRanges(Array(text.utf8))
        #expect(value["announce"]?.text == "url")
        let info = try #require(ranges["info"])
        #expect(String(decoding: Array(text.utf8)[info], as: UTF8.self) == "d4:name1:xe")
    }

    /// Random bytes and mutated valid values: never a crash, only values or typed errors, and
    /// whatever decodes encodes back to the same bytes (the decoder accepts only canonical input).
    @Test func fuzzedInputDecodesCanonicallyOrIsRefused() {
        var random = SystemRandomNumberGenerator()
        let seeds = ["d8:announce14:http://t/annce4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "li1ei-2e3:abcd1:xleee"]
        let alphabet = Array("0123456789-:ildex".utf8)
        for _ in 0..<2000 {
            var bytes = Array(seeds.randomElement()!.utf8)
            for _ in 0..<Int.random(in: 1...4) {
                let position = Int.random(in: 0..<bytes.count)
                let byte = Bool.random() ? alphabet.randomElement()! : UInt8.random(in: 0...255, using: &random)
                switch Int.random(in: 0..<3) {
                case 0: bytes.insert(byte, at: position)
                case 1: bytes.remove(at: position)
                default: bytes[position] = byte
                }
                if bytes.isEmpty { bytes = [0x30] }
            }
            if let value = try? Bencode.decode(bytes) { #expect(value.encoded() == bytes) }
        }
    }
}
