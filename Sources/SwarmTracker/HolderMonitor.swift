import Logging
import NIOCore
import NIOPosix
import Synchronization
import SwarmProtocol

/// Forgets holders that stopped serving, so `WHERE_CHUNK` stops sending clients to dead peers.
///
/// A holder is checked by opening a TCP connection to its transfer port: right after the tracker
/// connection it registered through closes, and then every `interval`. Once it has failed for
/// `grace`, its chunks are dropped. Seed-era peers close their tracker connection right after
/// registering and never come back; as long as their port accepts, they stay listed.
public final class HolderMonitor: Sendable {
    private let registry: TrackerRegistry
    private let interval: Duration
    private let grace: Duration
    private let connectTimeout: TimeAmount
    private let logger: Logger
    private let group: EventLoopGroup
    private let failingSince = Mutex<[PeerAddress: ContinuousClock.Instant]>([:])

    public init(
        registry: TrackerRegistry,
        interval: Duration = .seconds(10),
        grace: Duration = .seconds(30),
        connectTimeout: TimeAmount = .seconds(2),
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.registry = registry
        self.interval = interval
        self.grace = grace
        self.connectTimeout = connectTimeout
        self.logger = logger
        self.group = group
    }

    /// Checks every registered holder each `interval` until cancelled.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await check(registry.holders)
        }
    }

    /// Checks `holders` now (a tracker connection that registered them just closed).
    public func check(_ holders: Set<PeerAddress>) async {
        await withTaskGroup(of: Void.self) { tasks in
            for holder in holders { tasks.addTask { await self.check(holder) } }
        }
    }

    private func check(_ holder: PeerAddress) async {
        let alive = await accepts(holder)
        let now = ContinuousClock.now
        let expired: Bool = failingSince.withLock { failing in
            if alive {
                failing[holder] = nil
                return false
            }
            let since = failing[holder] ?? now
            failing[holder] = since
            return now - since >= grace
        }
        if !alive { logger.info("holder \(holder) does not accept connections") }
        if expired {
            let dropped = registry.forget(holder: holder)
            failingSince.withLock { $0[holder] = nil }
            logger.warning("forgot holder \(holder): unreachable for \(grace); \(dropped) registrations dropped")
        }
    }

    private func accepts(_ holder: PeerAddress) async -> Bool {
        let host = holder.host == "localhost" ? "127.0.0.1" : holder.host
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .connect(host: host, port: holder.port)
                .get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
