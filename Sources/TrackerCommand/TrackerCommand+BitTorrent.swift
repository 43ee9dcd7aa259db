import Logging
import NIOCore
import NIOPosix
import SwarmCore
import SwarmTracker

/// The BitTorrent front ends `-http-port` and `-udp-port` start beside the classic one.
struct BitTorrentFrontEnds {
    var http: HTTPTrackerServer?
    var udp: UDPTrackerServer?
    /// Forgets peers that stopped announcing, while the tracker runs.
    var sweeping: Task<Void, Never>?
    /// Their own threads (`-bittorrent-threads`), so neither protocol waits on the other's loop.
    var group: MultiThreadedEventLoopGroup?

    func shutdown() async {
        await http?.shutdown()
        await udp?.shutdown()
    }
}

extension TrackerCommand {
    /// The swarms' settings from the flags.
    var swarmSettings: TorrentSwarms.Settings {
        var settings = TorrentSwarms.Settings()
        settings.interval = announceInterval
        settings.minimumInterval = minInterval ?? announceInterval / 2
        settings.maximumWanted = maxNumwant
        return settings
    }

    /// Starts the HTTP and UDP front ends that were asked for, over one ``TorrentSwarms``.
    func startBitTorrent(classic: TrackerServer, metrics: TrackerMetrics, logger: Logger) async throws -> BitTorrentFrontEnds {
        var frontEnds = BitTorrentFrontEnds()
        guard httpPort != nil || udpPort != nil else { return frontEnds }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: bitTorrentThreads)
        frontEnds.group = group
        let swarms = TorrentSwarms(settings: swarmSettings)
        if let httpPort {
            var limits = HTTPTrackerLimits()
            limits.requestTimeout = .milliseconds(Int64(httpTimeout * 1000))
            do {
                frontEnds.http = try await HTTPTrackerServer.start(
                    host: host, port: httpPort, swarms: swarms, metrics: metrics,
                    snapshot: { TrackerMetrics.Snapshot(swarms: swarms, classic: classic) },
                    allowClaimedAddress: allowIPParameter, limits: limits, logger: logger, group: group)
            } catch {
                throw TrackerFailure(description: ListenFailure(host: host, port: httpPort, error: error).message(portFlag: "-http-port"))
            }
            logger.notice("BitTorrent HTTP tracker on \(frontEnds.http!.localAddress): /announce, /scrape, /metrics, /")
        }
        if let udpPort {
            do {
                frontEnds.udp = try await UDPTrackerServer.start(host: host, port: udpPort, swarms: swarms, metrics: metrics, logger: logger, group: group)
            } catch {
                throw TrackerFailure(description: ListenFailure(host: host, port: udpPort, error: error).message(portFlag: "-udp-port"))
            }
            logger.notice("BitTorrent UDP tracker on \(frontEnds.udp!.localAddress)")
        }
        let every = Duration.seconds(max(1, min(30, swarms.settings.interval / 2)))
        frontEnds.sweeping = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: every)
                let gone = swarms.sweep(now: swarms.now)
                if gone > 0 { logger.info("dropped \(gone) BitTorrent peers that stopped announcing") }
            }
        }
        return frontEnds
    }
}
