import Foundation
import NIOCore
import SwarmProtocol
import Testing

@testable import SwarmCore

@Suite struct ChunkFetcherTests {
    /// `REQUEST_CHUNK` goes without a terminator; the fetcher then half-closes, and that end of
    /// stream is what lets our server serve at once. With an hour of quiet period on the server,
    /// nothing else could start the transfer within the test's deadline.
    @Test func halfClosingTheRequestStartsTheTransferWithoutTheQuietPeriod() async throws {
        let seeder = try ScratchFolder()
        let leecher = try ScratchFolder()
        let bytes = SplitMix64.bytes(count: 300_000, seed: 7)
        let chunk = seeder.url.appendingPathComponent("chunk_1").path
        try Data(bytes).write(to: URL(fileURLWithPath: chunk))
        try "1,LASTCHUNK\n".write(to: leecher.url.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        let server = try await PeerServer.start(
            host: "127.0.0.1", port: 0, lookup: { $0 == ChunkIndex(1) ? chunk : nil }, onServe: { _ in },
            quietPeriod: .hours(1)
        )
        let store = try ChunkStore.open(folder: leecher.url.path)
        let holder = PeerAddress(host: "127.0.0.1", port: server.localAddress.port!)!
        let digest = try ChunkHasher.digest(ofFileAt: chunk)
        let received = try await withThrowingTaskGroup(of: ReceivedChunk?.self) { tasks in
            tasks.addTask { try await ChunkFetcher().fetch(ChunkIndex(1), from: holder, expecting: digest, into: store) }
            tasks.addTask {
                try await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = try await tasks.next()!
            tasks.cancelAll()
            return first
        }
        #expect(received?.byteCount == bytes.count, "the transfer did not start within 30 s")
        // The handshake's round trip, for the fetch window: loopback's, well under a second.
        if let received { #expect(received.roundTrip.map { $0 > .zero && $0 < .seconds(1) } == true, "\(String(describing: received.roundTrip))") }
        if let received { await store.discard(received) }
        await server.shutdown()
    }
}

extension ChunkFetcherTests {
    /// A fetcher whose connections are not closed as stalled for ten minutes: these tests only
    /// look at a connection's options, which on a machine busy with the rest of the suite can
    /// take longer than the usual 10 s of silence.
    static var patientFetcher: ChunkFetcher {
        var fetcher = ChunkFetcher()
        fetcher.stallTimeout = .seconds(600)
        return fetcher
    }

    /// Chunk connections get a fixed 2 MiB receive buffer where the system grants one, and are
    /// left to the kernel's auto-tuning where it would cut the request short.
    @Test func chunkConnectionsAskForTheirReceiveBufferWhereGranted() async throws {
        // A server that waits long for the request: a busy machine must not close the connection
        // before the test has looked at it.
        let server = try await PeerServer.start(host: "127.0.0.1", port: 0, lookup: { _ in nil }, onServe: { _ in }, requestTimeout: .seconds(600))
        let channel = try await Self.patientFetcher.connect(host: "127.0.0.1", port: server.localAddress.port!)
        let granted = Int(try await channel.channel.getOption(ChannelOptions.socketOption(.so_rcvbuf)) as SocketOptionValue)
        let maximum = try FileSystem.readText("/proc/sys/net/core/rmem_max").filter(\.isNumber)
        if let maximum = Int(maximum), maximum >= ChunkFetcher.receiveBufferSize {
            #expect(ChunkFetcher.receiveBuffer == ChunkFetcher.receiveBufferSize)
            // Linux reports twice what was asked for: the other half is its bookkeeping.
            #expect(granted == 2 * ChunkFetcher.receiveBufferSize)
        } else {
            #expect(ChunkFetcher.receiveBuffer == nil)
            #expect(granted < 2 * ChunkFetcher.receiveBufferSize)
        }
        try await channel.channel.close()
        await server.shutdown()
    }

    /// Both ways of connecting (straight to a numeric address; resolving a name, as seed-era
    /// peers register "localhost") set the connection up the same way.
    @Test(arguments: ["127.0.0.1", "localhost"])
    func chunkConnectionsReadOncePerWakeUp(host: String) async throws {
        // A server that waits long for the request: a busy machine must not close the connection
        // before the test has looked at it.
        let server = try await PeerServer.start(host: "127.0.0.1", port: 0, lookup: { _ in nil }, onServe: { _ in }, requestTimeout: .seconds(600))
        // "localhost" may resolve to ::1 first, where another test's server may hold the same
        // port number and close what reaches it: a connection found closed is tried again, at
        // most five times.
        var option: ChannelOptions.Types.MaxMessagesPerReadOption.Value?
        for _ in 1...5 where option == nil {
            let channel = try await Self.patientFetcher.connect(host: host, port: server.localAddress.port!)
            // NIO's default is 4, and as many pooled receive buffers, each copied whole when added.
            option = try? await channel.channel.getOption(ChannelOptions.maxMessagesPerRead)
            try? await channel.channel.close()
        }
        #expect(option == 1)
        await server.shutdown()
    }
}

extension ChunkFetcherTests {
    /// The first read is sized to the chunks seen so far, so a tiny chunk does not cost a copy of
    /// a 256 KiB buffer; large or unknown chunks start at 256 KiB.
    @Test(arguments: [
        (nil, 256 * 1024), (0, 256 * 1024), (1, 4096), (1_000, 4096), (4096, 4096), (4097, 8192),
        (70_000, 128 * 1024), (300_000, 256 * 1024), (16 << 20, 256 * 1024),
    ] as [(Int?, Int)])
    func firstReadFollowsTheExpectedChunkSize(_ expected: Int?, _ size: Int) {
        #expect(ChunkFetcher.firstReadSize(expecting: expected) == size)
    }

    @Test func chunkConnectionsStartWithTheFirstReadAskedFor() async throws {
        // A server that waits long for the request: a busy machine must not close the connection
        // before the test has looked at it.
        let server = try await PeerServer.start(host: "127.0.0.1", port: 0, lookup: { _ in nil }, onServe: { _ in }, requestTimeout: .seconds(600))
        let channel = try await Self.patientFetcher.connect(host: "127.0.0.1", port: server.localAddress.port!, firstRead: 8192)
        let allocator = try await channel.channel.getOption(ChannelOptions.recvAllocator) as? AdaptiveRecvByteBufferAllocator
        #expect(allocator?.initial == 8192)
        #expect(allocator?.maximum == 1 << 20)
        try await channel.channel.close()
        await server.shutdown()
    }
}

extension ChunkFetcherTests {
    /// A fetch cancelled while connecting (the client stopping, or the loser of an endgame pair)
    /// ends at once, not when the connect timeout (here a minute) runs out: cancelled before
    /// its connection attempt began, and while the attempt waits for a holder that never answers.
    @Test(arguments: [false, true])
    func fetchCancelledWhileConnectingEndsAtOnce(waitForTheAttempt: Bool) async throws {
        let holder = try SilentPort()
        let folder = try ScratchFolder()
        try "1,LASTCHUNK\n".write(to: folder.url.appendingPathComponent(ChunkList.fileName), atomically: true, encoding: .utf8)
        let store = try ChunkStore.open(folder: folder.url.path)
        var fetcher = ChunkFetcher()
        fetcher.connectTimeout = .seconds(60)
        let started = ContinuousClock.now
        let fetch = Task { [fetcher] in
            try await fetcher.fetch(ChunkIndex(1), from: holder.address, expecting: SHA1Digest(bytes: Array(repeating: 0, count: 20)), into: store)
        }
        if waitForTheAttempt {
            let deadline = ContinuousClock.now + .seconds(20)
            while !holder.hasConnectionAttempt(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(holder.hasConnectionAttempt(), "the fetch tried to connect within 20 s")
        }
        fetch.cancel()
        let outcome = await fetch.result
        #expect(ContinuousClock.now - started < .seconds(30), "ended long before the 60 s connect timeout")
        guard case .failure(let failure) = outcome, case .unreachable = failure as? FetchFailure else {
            Issue.record("expected the holder to count as unreachable, got \(outcome)")
            return
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == [ChunkList.fileName], "no partial file")
    }
}
