import NIOCore
import NIOPosix
import SwarmProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why fetching a chunk from one holder failed. The chunk is then tried elsewhere.
public enum FetchFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The holder could not be reached (refused, timed out, name unknown).
    case unreachable(String)
    /// The bytes did not hash to the digest the tracker gave.
    case digestMismatch(expected: SHA1Digest, received: SHA1Digest, bytes: Int)
    /// The holder stopped sending for too long.
    case stalled(after: Duration)
    /// The transfer broke off.
    case transfer(String)
    /// The chunk could not be written to the folder.
    case storage(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): return "unreachable: \(reason)"
        case .digestMismatch(let expected, let received, let bytes):
            return bytes == 0
                ? "sent nothing (refused?); expected SHA-1 \(expected)"
                : "sent \(bytes) bytes with SHA-1 \(received), expected \(expected)"
        case .stalled(let delay): return "sent nothing for \(delay.secondsText)"
        case .transfer(let reason): return "transfer failed: \(reason)"
        case .storage(let reason): return "cannot save: \(reason)"
        }
    }

    /// Whether the holder misbehaved (as opposed to being unreachable or our disk failing).
    public var isBadData: Bool {
        if case .digestMismatch(_, _, let bytes) = self { return bytes > 0 }
        return false
    }
}

/// Downloads one chunk from one holder: `REQUEST_CHUNK,<i>` as one unterminated write, then every
/// byte to end of stream into a ``ChunkDownload``, hashed on the way; kept only if the SHA-1 matches.
public struct ChunkFetcher: Sendable {
    /// How long a connection attempt may take before the holder counts as unreachable.
    public var connectTimeout: TimeAmount = .seconds(3)
    /// How long the holder may stay silent mid-transfer.
    public var stallTimeout: Duration = .seconds(10)
    /// Paces every download of this client together, if set.
    public var downloadLimit: TokenBucket?
    /// Event loops for the connections.
    public var group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// The receive buffer asked for on every chunk connection (`SO_RCVBUF`; Linux doubles it
    /// for its bookkeeping). A fixed window of this size from the first byte, instead of the
    /// kernel's auto-tuning from 128 KiB, measured on two cores: 1 -> 7 swarm CPU -21% and time
    /// -19% (2.11 -> 1.71 s); 1 -> 1 CPU -10%. 1 and 4 MiB did no better.
    static let receiveBufferSize = 2 << 20

    /// ``receiveBufferSize`` where the system grants it; `nil` (auto-tuning) where
    /// `net.core.rmem_max` is lower (208 KiB on a stock Linux), since a request is silently cut
    /// to that maximum and a fixed buffer that small would be slower than auto-tuning.
    public static let receiveBuffer: Int? = {
        guard let text = try? FileSystem.readText("/proc/sys/net/core/rmem_max"),
            let maximum = Int(text.filter(\.isNumber)), maximum >= receiveBufferSize
        else { return nil }
        return receiveBufferSize
    }()

    public init() {}

    /// The first read's buffer when nothing suggests a chunk's size; reads double from there
    /// while they fill their buffer, up to 1 MiB.
    static let defaultFirstRead = 256 * 1024

    /// Fetches chunk `index` from `holder` and checks it against `digest`.
    ///
    /// - Parameters:
    ///   - expectedBytes: about how large the chunk is (the chunks of a file are the same size
    ///     but for the last), if known: it sizes the first read (``firstReadSize(expecting:)``).
    ///   - writeBatch: bytes gathered before each write to disk (``FetchWindow/writeBatch``).
    ///   - onProgress: told of every batch of bytes received (count of new bytes).
    /// - Returns: the received chunk, not yet kept; the caller commits it.
    public func fetch(
        _ index: ChunkIndex,
        from holder: PeerAddress,
        expecting digest: SHA1Digest,
        into store: ChunkStore,
        expectedBytes: Int? = nil,
        writeBatch: Int = ChunkDownload.defaultBatchSize,
        onProgress: @Sendable (Int) -> Void = { _ in }
    ) async throws(FetchFailure) -> ReceivedChunk {
        let channel = try await connect(to: holder, firstRead: Self.firstReadSize(expecting: expectedBytes))
        let roundTrip = await Self.handshakeRoundTrip(of: channel.channel)
        let download: ChunkDownload
        do {
            download = try await store.beginDownload(of: index, batchSize: writeBatch)
        } catch {
            try? await channel.channel.close()
            throw .storage("\(error)")
        }
        var received: ReceivedChunk
        // Cancelled (the other copy of an endgame pair arrived first): closing the connection
        // ends the transfer at once instead of letting it run to the end.
        let connection = channel.channel
        do {
            received = try await withTaskCancellationHandler {
                try await receive(index, on: channel, into: download, onProgress: onProgress)
            } onCancel: {
                connection.close(promise: nil)
            }
        } catch {
            await download.discard()
            throw Self.classify(error)
        }
        guard received.digest == digest else {
            await store.discard(received)
            throw .digestMismatch(expected: digest, received: received.digest, bytes: received.byteCount)
        }
        received.roundTrip = roundTrip
        return received
    }

    /// The kernel's round-trip estimate of a connection just made: its handshake's, before any
    /// queue on the way has filled with this connection's bytes.
    static func handshakeRoundTrip(of channel: Channel) async -> Duration? {
        #if os(Linux)
        guard let provider = channel as? SocketOptionProvider, let info = try? await provider.getTCPInfo().get(), info.tcpi_rtt > 0 else {
            return nil
        }
        return .microseconds(Int64(info.tcpi_rtt))
        #else
        return nil
        #endif
    }

    /// Sends the request and streams every byte to end of stream into `download`.
    private func receive(
        _ index: ChunkIndex,
        on channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        into download: ChunkDownload,
        onProgress: (Int) -> Void
    ) async throws -> ReceivedChunk {
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(PeerRequest.requestChunk(index).encoded(terminated: false))
            // Half-close: the request has no terminator (seed-era peers would read it as part of
            // the index), so end of stream is what tells our own peers at once that it is whole;
            // otherwise they wait out their quiet period (10 ms) before serving.
            outbound.finish()
            for try await bytes in inbound {
                onProgress(bytes.readableBytes)
                try await download.append(bytes)
                // Reading slower fills the TCP window, which slows the sender.
                if let wait = downloadLimit?.reserve(bytes.readableBytes), wait > .zero {
                    try await Task.sleep(for: wait)
                }
            }
            // A connection closed by cancellation ends like a finished one: not a whole chunk.
            try Task.checkCancellation()
            return try await download.finish()
        }
    }

    /// The first read's buffer for a chunk of about `bytes`: the chunk's size rounded up to a
    /// power of two, from 4 KiB to ``defaultFirstRead``. NIO copies a connection's first buffer
    /// whole on the first read (it keeps it for reuse while the read still refers to it), so a
    /// 1 KiB chunk read into 256 KiB cost a 256 KiB copy and allocation: 3% of a client's CPU
    /// when its chunks were that small.
    static func firstReadSize(expecting bytes: Int?) -> Int {
        guard let bytes, bytes > 0 else { return defaultFirstRead }
        let roundedUp = 1 << (Int.bitWidth - (bytes - 1).leadingZeroBitCount)
        return min(max(4096, roundedUp), defaultFirstRead)
    }

    private func connect(to holder: PeerAddress, firstRead: Int) async throws(FetchFailure) -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        do {
            return try await connect(host: holder.host, port: holder.port, firstRead: firstRead)
        } catch {
            // Seed-era peers register names such as "localhost" that may not resolve everywhere.
            if Self.isResolutionFailure(error), holder.host != "127.0.0.1" {
                if let channel = try? await connect(host: "127.0.0.1", port: holder.port, firstRead: firstRead) { return channel }
            }
            throw .unreachable(ConnectionErrorText.describe(error))
        }
    }

    /// A connection to a holder, set up for receiving one chunk, its first read `firstRead` bytes.
    func connect(host: String, port: Int, firstRead: Int = defaultFirstRead) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let stall = TimeAmount.nanoseconds(Int64(stallTimeout.seconds * 1e9))
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: false)
            // One read per wake-up. NIO pools as many receive buffers as reads per wake-up, and
            // a buffer it adds to its pool is copied whole on its first read, uninitialised
            // bytes and all (up to 1 MiB). While we hold earlier buffers (a batch not yet on
            // disk) it keeps adding: up to four copies per connection with its default of four,
            // one with one. Measured on two cores, 1 -> 7 swarm: clients' CPU -5 to -8%, time
            // -5 to -7%; 1 -> 1 unchanged.
            .channelOption(.maxMessagesPerRead, value: 1)
            // Reads of up to 1 MiB: a chunk arrives in fewer, larger buffers, each one hop to
            // the receiving task (NIO's default stops growing at 64 KiB).
            .channelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: min(64 * 1024, firstRead), initial: firstRead, maximum: 1024 * 1024)
            )
        if let size = Self.receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(size))
        }
        let attempt = ConnectionAttempt()
        let setUp: @Sendable (Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                guard attempt.add(channel) else { throw CancellationError() }
                try channel.pipeline.syncOperations.addHandlers(
                    IdleStateHandler(readTimeout: stall),
                    StallDetector(timeout: stallTimeout)
                )
                // At most four reads (up to 1 MiB each) wait for the receiving task, so eight
                // fetches at once stay within a few tens of MiB.
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 4), isOutboundHalfClosureEnabled: true)
                )
            }
        }
        // NIO's connect does not end when its task is cancelled; closing the channel does.
        return try await withTaskCancellationHandler {
            // The tracker hands out numeric addresses: connecting to one directly skips the name
            // resolver and Happy Eyeballs, which a connection per chunk pays for every time.
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                return try await bootstrap.connect(to: address, channelInitializer: setUp)
            }
            return try await bootstrap.connect(host: host, port: port, channelInitializer: setUp)
        } onCancel: {
            attempt.cancel()
        }
    }

    /// A name that did not resolve to any address (as opposed to an address that refused).
    private static func isResolutionFailure(_ error: Error) -> Bool {
        guard let error = error as? NIOConnectionError else { return false }
        return error.connectionErrors.isEmpty
    }

    private static func classify(_ error: Error) -> FetchFailure {
        if let failure = error as? FetchFailure { return failure }
        if error is FileSystemError { return .storage("\(error)") }
        return .transfer(ConnectionErrorText.describe(error))
    }
}

/// The channels one connection attempt made (one, or one per address tried for a name), closed
/// when the attempt's task is cancelled: a fetch cancelled while connecting (the client stopping,
/// the loser of an endgame pair) ends at once instead of within the connect timeout, which a
/// holder that never answers would otherwise take whole.
private final class ConnectionAttempt: Sendable {
    private let state = Mutex<(channels: [Channel], cancelled: Bool)>(([], false))

    /// Keeps `channel` to close on cancellation; `false` if the attempt is already cancelled.
    func add(_ channel: Channel) -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.channels.append(channel)
            return true
        }
    }

    /// Closes every channel made so far, and refuses any made later.
    func cancel() {
        let channels = state.withLock { state in
            state.cancelled = true
            return state.channels
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Turns a read timeout from `IdleStateHandler` into a ``FetchFailure/stalled(after:)`` error.
private final class StallDetector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: Duration

    init(timeout: Duration) { self.timeout = timeout }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(IdleStateHandler.IdleStateEvent.read) = event as? IdleStateHandler.IdleStateEvent {
            context.fireErrorCaught(FetchFailure.stalled(after: timeout))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
