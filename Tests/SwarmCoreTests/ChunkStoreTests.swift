import Foundation
import NIOCore
import SwarmProtocol
import Testing

@testable import SwarmCore

/// A folder of its own for one test, removed when the test is done with it.
final class ScratchFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite struct ChunkStoreTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder() }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func receive(_ store: ChunkStore, _ index: Int, _ text: String) async throws -> ReceivedChunk {
        let download = try await store.beginDownload(of: ChunkIndex(index))
        try await download.append(ByteBuffer(string: text))
        return try await download.finish()
    }

    @Test func gatheredWriteKeepsOrderAcrossMoreBuffersThanOneWritevTakes() throws {
        // 2,500 buffers (more than the 1,024 vectors of one writev), some empty, some read from.
        var buffers: [ByteBuffer] = []
        var expected: [UInt8] = []
        for number in 0..<2_500 {
            let bytes = SplitMix64.bytes(count: number % 7 == 0 ? 0 : number % 300 + 1, seed: UInt64(number))
            var buffer = ByteBuffer(bytes: [0xEE, 0xEE] + bytes)
            buffer.moveReaderIndex(forwardBy: 2)
            buffers.append(buffer)
            expected += bytes
        }
        let path = folder.appendingPathComponent("gathered").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try FileSystem.writeAll(descriptor, buffers, path: path)
        close(descriptor)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(expected))
    }

    @Test func writeWithoutSyncCreatesOrReplacesTheFileAndNamesItOnError() throws {
        let path = folder.appendingPathComponent("generated").path
        try FileSystem.writeWithoutSync(Array("first, longer".utf8), to: path)
        try FileSystem.writeWithoutSync(Array("second".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        let missing = folder.appendingPathComponent("no-such-folder/generated").path
        #expect(throws: FileSystemError(path: missing, reason: "No such file or directory")) {
            try FileSystem.writeWithoutSync([1, 2, 3], to: missing)
        }
    }

    @Test func hashesHeldChunksIncludingEmptyOnes() async throws {
        try write("chunk_1", "abc")
        try write("chunk_2", "")
        try write("local_chunks.txt", "1,chunk_1\n2,chunk_2\n3,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        let digests = try await store.hashHeldChunks()
        #expect(digests[ChunkIndex(1)]?.hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(digests[ChunkIndex(2)] == .empty)
        #expect(store.total == 3)
    }

    /// Reads the folder's list as it is on disk now.
    func listOnDisk() throws -> String {
        try String(contentsOf: folder.appendingPathComponent("local_chunks.txt"), encoding: .utf8)
    }

    /// Waits, up to 10 s, for the list on disk to name chunk `index`.
    func waitForListing(_ index: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let list = try? ChunkList(parsing: listOnDisk()), list.files[ChunkIndex(index)] != nil { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    @Test func commitRenamesAndRewritesTheListWithLastChunkLast() async throws {
        try write("local_chunks.txt", "3,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        let received = try await receive(store, 2, "hello")
        #expect(received.digest.hex == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
        try await store.commit(received)
        #expect(try String(contentsOf: folder.appendingPathComponent("chunk_2"), encoding: .utf8) == "hello")
        #expect(store.servingPath(for: ChunkIndex(2)) != nil, "served from its commit on")
        #expect(try await waitForListing(2), "listed within the delay, without a flush")
        #expect(try listOnDisk() == "2,chunk_2\n3,LASTCHUNK\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["chunk_2", "local_chunks.txt"])
    }

    /// Commits within the delay share one rewrite of the list, which `flush` does at once.
    @Test func commitsCloseTogetherShareOneRewriteOfTheList() async throws {
        try write("local_chunks.txt", "20,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path, listWriteDelay: .seconds(3600))
        let listPath = folder.appendingPathComponent("local_chunks.txt").path
        let before = try #require(FileManager.default.attributesOfItem(atPath: listPath)[.systemFileNumber] as? Int)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...20 {
                group.addTask { try await store.commit(try await receive(store, index, "chunk \(index)")) }
            }
            try await group.waitForAll()
        }
        #expect(await store.heldIndexes.count == 20)
        #expect(try listOnDisk() == "20,LASTCHUNK\n", "not rewritten before the delay is out")
        try await store.flush()
        #expect(try ChunkList(parsing: listOnDisk()).isComplete)
        let after = try #require(FileManager.default.attributesOfItem(atPath: listPath)[.systemFileNumber] as? Int)
        #expect(after != before, "rewritten by renaming a new file over it")
        try await store.flush()
        let unchanged = try #require(FileManager.default.attributesOfItem(atPath: listPath)[.systemFileNumber] as? Int)
        #expect(unchanged == after, "a flush with nothing new does not rewrite it")
    }

    @Test func discardedDownloadLeavesNothing() async throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        let download = try await store.beginDownload(of: ChunkIndex(1))
        try await download.append(ByteBuffer(string: "partial"))
        await download.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["local_chunks.txt"])
    }

    /// A download discarded after a batch reached the disk: the file it created is removed and
    /// no descriptor is left open on it.
    @Test func discardedDownloadClosesAndRemovesTheFileItWrote() async throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        let download = try await store.beginDownload(of: ChunkIndex(1))
        try await download.append(ByteBuffer(bytes: [UInt8](repeating: 7, count: ChunkDownload.defaultBatchSize)))
        try await download.append(ByteBuffer(string: "more"))
        await download.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["local_chunks.txt"])
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")
        }
        #expect(!open.contains { $0.hasPrefix(download.path) }, "still open: \(open.filter { $0.contains(ChunkStore.partialPrefix) })")
    }

    /// What a stopping client's fetches meet: the thread pool refuses work from a cancelled task
    /// unrun. A chunk's last write and close, and the rename of a whole chunk, run all the same:
    /// no descriptor is left open, nothing half done stays in the folder, and the chunk is kept.
    @Test func finishAndCommitCompleteFromACancelledTask() async throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        // Used by one task at a time: this one, then the cancelled one, awaited.
        nonisolated(unsafe) let download = try await store.beginDownload(of: ChunkIndex(1))
        try await download.append(ByteBuffer(string: "whole"))
        let kept = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await store.commit(try await download.finish())
        }
        try await kept.value
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")
        }
        #expect(!open.contains { $0.hasPrefix(download.path) }, "still open: \(download.path)")
        try await store.flush()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["chunk_1", "local_chunks.txt"])
        #expect(try listOnDisk() == "1,chunk_1\n1,LASTCHUNK\n")
    }

    @Test func emptyChunkIsReceivedAsAnEmptyFile() async throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path)
        let received = try await store.beginDownload(of: ChunkIndex(1)).finish()
        #expect(received.byteCount == 0)
        try await store.commit(received)
        try await store.flush()
        #expect(try Data(contentsOf: folder.appendingPathComponent("chunk_1")).isEmpty)
        #expect(try listOnDisk() == "1,chunk_1\n1,LASTCHUNK\n")
    }

    /// Closing writes the list at once; a commit after it is refused and leaves nothing, so the
    /// list a stopping client leaves names every chunk it kept.
    @Test func closeWritesTheListAndRefusesLaterCommits() async throws {
        try write("local_chunks.txt", "2,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path, listWriteDelay: .seconds(3600))
        try await store.commit(try await receive(store, 1, "kept"))
        let late = try await receive(store, 2, "too late")
        try await store.close()
        #expect(try listOnDisk() == "1,chunk_1\n2,LASTCHUNK\n")
        await #expect(throws: StoreClosed.self) { try await store.commit(late) }
        #expect(try listOnDisk() == "1,chunk_1\n2,LASTCHUNK\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["chunk_1", "local_chunks.txt"])
    }

    /// When the list cannot be rewritten, the chunk stays held and served, the failure is told,
    /// and the rewrite is tried again until it succeeds.
    @Test func failedListRewriteIsReportedAndTriedAgain() async throws {
        try write("local_chunks.txt", "2,LASTCHUNK\n")
        let store = try ChunkStore.open(folder: folder.path, listWriteDelay: .milliseconds(10))
        // A directory in the list's place: renaming the new list over it fails.
        let list = folder.appendingPathComponent("local_chunks.txt")
        try FileManager.default.removeItem(at: list)
        try FileManager.default.createDirectory(at: list.appendingPathComponent("blocker"), withIntermediateDirectories: true)
        try await store.commit(try await receive(store, 1, "first"))
        #expect(await store.heldIndexes == [ChunkIndex(1)])
        #expect(store.servingPath(for: ChunkIndex(1)) != nil)
        var failures = store.listWriteFailures.makeAsyncIterator()
        let failure = await failures.next()
        #expect(failure?.path == list.path, "\(String(describing: failure))")
        await #expect(throws: FileSystemError.self) { try await store.flush() }
        try FileManager.default.removeItem(at: list)
        #expect(try await waitForListing(1), "listed once the rewrite can succeed")
        #expect(try listOnDisk() == "1,chunk_1\n2,LASTCHUNK\n")
        #expect(try String(contentsOf: folder.appendingPathComponent("chunk_1"), encoding: .utf8) == "first")
    }

    @Test func leftoverTemporaryFilesAreRemovedAtStartUp() throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        try write("\(ChunkStore.partialPrefix)1-1234", "half a chunk")
        // A client killed while rewriting its list leaves the new list's temporary file.
        try write("local_chunks.txt.tmp-4321-99", "1,chunk_1\n1,LAST")
        _ = try ChunkStore.open(folder: folder.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["local_chunks.txt"])
    }

    /// One store per folder: a second is refused while the first is open, naming this process,
    /// and does not remove the first's download under way as a leftover; once the first is
    /// closed, the folder opens again.
    @Test func folderInUseIsRefusedUntilClosed() async throws {
        try write("local_chunks.txt", "1,LASTCHUNK\n")
        let first = try ChunkStore.open(folder: folder.path)
        let download = try await first.beginDownload(of: ChunkIndex(1))
        #expect(throws: ChunkFolderError.inUse(path: folder.path, by: getpid())) { try ChunkStore.open(folder: folder.path) }
        #expect(FileManager.default.fileExists(atPath: download.path), "the first store's download is left alone")
        await download.discard()
        try await first.close()
        // The lock goes with the folder's descriptor, which a process another test spawns at
        // that moment may share until it starts its program: wait a little for it.
        var again: ChunkStore?
        let deadline = ContinuousClock.now + .seconds(10)
        while again == nil, ContinuousClock.now < deadline {
            do { again = try ChunkStore.open(folder: folder.path) } catch { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(again != nil, "the folder opens again once the first store is closed")
        try await again?.close()
    }

    @Test func symlinkLeadingOutsideTheFolderIsRefused() throws {
        try write("local_chunks.txt", "1,chunk_1\n1,LASTCHUNK\n")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("chunk_1").path, withDestinationPath: "/etc/hostname")
        #expect(throws: ChunkFolderError.self) { try ChunkStore.open(folder: folder.path) }
    }

    @Test func missingFolderAndListAreNamed() throws {
        #expect(throws: ChunkFolderError.folderMissing(path: folder.path + "/nope")) {
            try ChunkStore.open(folder: folder.path + "/nope")
        }
        #expect(throws: ChunkFolderError.listMissing(path: folder.path + "/local_chunks.txt")) {
            try ChunkStore.open(folder: folder.path)
        }
    }
}
