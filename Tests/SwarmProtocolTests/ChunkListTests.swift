import Testing

@testable import SwarmProtocol

@Suite struct ChunkListTests {
    @Test func seedExampleIsMissingChunkFour() throws {
        let list = try ChunkList(parsing: "1,chunk_1\n2,chunk_2\n3,chunk_3\n4,LASTCHUNK\n")
        #expect(list.total == 4)
        #expect(list.missing == [ChunkIndex(4)])
        #expect(list.files[ChunkIndex(2)] == "chunk_2")
    }

    @Test func crlfBlankLinesAndSpacesAreAccepted() throws {
        let list = try ChunkList(parsing: "\r\n 1 , chunk_1 \r\n\r\n3,LASTCHUNK\r\n\r\n")
        #expect(list.total == 3)
        #expect(list.files == [ChunkIndex(1): "chunk_1"])
    }

    @Test func emptyFolderListsOnlyTheTotal() throws {
        let list = try ChunkList(parsing: "5,LASTCHUNK")
        #expect(list.missing.count == 5)
    }

    @Test(arguments: [
        ("1,chunk_1\n", "local_chunks.txt: no \"N,LASTCHUNK\" line giving the total number of chunks"),
        ("", "local_chunks.txt: no \"N,LASTCHUNK\" line giving the total number of chunks"),
        ("0,LASTCHUNK\n", "local_chunks.txt:1: the total number of chunks must be at least 1, not 0"),
        ("-2,LASTCHUNK\n", "local_chunks.txt:1: the total number of chunks must be at least 1, not -2"),
        ("1,chunk_1\nabc,chunk_2\n2,LASTCHUNK\n", "local_chunks.txt:2: chunk index \"abc\" is not a number"),
        ("0,chunk_0\n2,LASTCHUNK\n", "local_chunks.txt:1: chunk index 0 is below 1"),
        ("-1,chunk_0\n2,LASTCHUNK\n", "local_chunks.txt:1: chunk index -1 is below 1"),
        ("1,chunk_1\n5,chunk_5\n4,LASTCHUNK\n", "local_chunks.txt:2: chunk index 5 is above the total of 4"),
        ("1,a\n1,b\n2,LASTCHUNK\n", "local_chunks.txt:2: chunk 1 is listed twice (also on line 1)"),
        ("1,/etc/passwd\n2,LASTCHUNK\n", "local_chunks.txt:1: file name \"/etc/passwd\" is absolute"),
        ("1,../x\n2,LASTCHUNK\n", "local_chunks.txt:1: file name \"../x\" leads outside the folder"),
        ("1,sub/../../x\n2,LASTCHUNK\n", "local_chunks.txt:1: file name \"sub/../../x\" leads outside the folder"),
        ("1,\n2,LASTCHUNK\n", "local_chunks.txt:1: the file name is empty"),
        ("chunk_1\n2,LASTCHUNK\n", "local_chunks.txt:1: expected \"index,filename\""),
        ("2,LASTCHUNK\n3,LASTCHUNK\n", "local_chunks.txt:2: a second LASTCHUNK line (the first is line 1)"),
    ])
    func brokenListsAreRefusedWithFileLineAndProblem(_ text: String, _ message: String) {
        do {
            _ = try ChunkList(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
        }
    }

    @Test func writerKeepsLastChunkLastAndRoundTrips() throws {
        var list = try ChunkList(parsing: "3,chunk_3\n1,chunk_1\n4,LASTCHUNK\n")
        list.add(ChunkIndex(2), fileName: "chunk_2")
        #expect(list.text == "1,chunk_1\n2,chunk_2\n3,chunk_3\n4,LASTCHUNK\n")
        #expect(try ChunkList(parsing: list.text).files == list.files)
    }

    /// The text is the same whether the list is sparse (sorted) or at least a quarter full (laid
    /// out by index), with names of any kind.
    @Test(arguments: [0, 1, 99, 250, 251, 700, 1_000])
    func textListsHeldChunksAscendingAtAnyFullness(held: Int) throws {
        var list = ChunkList(total: 1_000)
        // Added in a scrambled order (multiplying by a prime modulo a larger one), the same every run.
        for index in (1...1_000).sorted(by: { $0 * 7919 % 1009 < $1 * 7919 % 1009 }).prefix(held) {
            list.add(ChunkIndex(index), fileName: index % 3 == 0 ? "données_\(index)" : "chunk_\(index)")
        }
        let expected = list.files.keys.sorted().map { "\($0.value),\(list.files[$0]!)\n" }.joined() + "1000,LASTCHUNK\n"
        #expect(list.text == expected)
        #expect(try ChunkList(parsing: list.text).files == list.files)
    }
}
