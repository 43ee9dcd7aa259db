import ArgumentParser
import Dispatch
import Logging
import NIOCore
import NIOPosix
import SwarmCore
import SwarmProtocol
import SwarmTracker

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tracker`: the headless tracker, on localhost:5100 unless told otherwise.
@main
struct TrackerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Records which peer holds which chunk and tells clients where to fetch them."
    )

    @Option(name: .customLong("host", withSingleDash: true), help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .customLong("port", withSingleDash: true), help: "TCP port to listen on (1-65535).")
    var port = 5100

    @Option(
        name: .customLong("quorum", withSingleDash: true),
        help: "List a chunk only once this many peers registered the same SHA-1 (some seed-era trackers use 2)."
    )
    var quorum = 1

    @Option(name: .customLong("name", withSingleDash: true), help: "Name used in logger.log lines.")
    var name = "P2PTracker"

    @Option(
        name: .customLong("check-interval", withSingleDash: true),
        help: "Seconds between checks that holders still accept connections."
    )
    var checkInterval = 10.0

    @Option(
        name: .customLong("grace", withSingleDash: true),
        help: "Seconds a holder may fail checks before its chunks are forgotten."
    )
    var grace = 30.0

    @Option(name: .customLong("idle-timeout", withSingleDash: true), help: "Seconds a connection may stay open without sending anything valid.")
    var idleTimeout = 30.0

    @Option(name: .customLong("max-connections", withSingleDash: true), help: "Connections open at once.")
    var maxConnections = 4096

    @Option(name: .customLong("max-registrations", withSingleDash: true), help: "Registrations one connection may make.")
    var maxRegistrations = 1_000_000

    @Option(
        name: .customLong("threads", withSingleDash: true),
        help: "Event-loop threads serving connections. One answers fastest on a small machine; add more on a big one."
    )
    var threads = 1

    @Option(
        name: .customLong("stats-interval", withSingleDash: true),
        help: "Seconds between console summaries of questions, registrations and connections (0: none)."
    )
    var statsInterval: Double = 60

    @Option(
        name: .customLong("http-port", withSingleDash: true),
        help: "Also serve BitTorrent clients over HTTP on this port: /announce, /scrape, /metrics (Prometheus), / (status). Off unless given."
    )
    var httpPort: Int?

    @Option(name: .customLong("udp-port", withSingleDash: true), help: "Also serve BitTorrent clients over UDP (BEP 15) on this port. Off unless given.")
    var udpPort: Int?

    @Option(name: .customLong("announce-interval", withSingleDash: true), help: "Seconds BitTorrent clients are told to wait between announces; a peer silent for two intervals is dropped.")
    var announceInterval = 1800

    @Option(name: .customLong("min-interval", withSingleDash: true), help: "Seconds BitTorrent clients must wait at least between announces (default: half the interval).")
    var minInterval: Int?

    @Option(name: .customLong("max-numwant", withSingleDash: true), help: "The most peers one BitTorrent announce gets, whatever it asks for.")
    var maxNumwant = 200

    @Flag(name: .customLong("allow-ip-param", withSingleDash: true), help: "Use the address an HTTP announce names in ip= instead of the one it came from.")
    var allowIPParameter = false

    @Option(
        name: .customLong("bittorrent-threads", withSingleDash: true),
        help: "Event-loop threads serving -http-port and -udp-port, apart from the classic ones (default: one per core)."
    )
    var bitTorrentThreads = System.coreCount

    @Option(name: .customLong("http-timeout", withSingleDash: true), help: "Seconds an HTTP client has to send a whole request (and to start the next).")
    var httpTimeout = 10.0

    @Flag(
        name: .customLong("verbose", withSingleDash: true),
        help: "Print every request and answer on the console too (logger.log always has them)."
    )
    var verbose = false

    func validate() throws {
        guard PeerAddress.isValidPort(port) else {
            throw ValidationError("-port \(port) is not a TCP port; use a number from 1 to 65535.")
        }
        guard checkInterval > 0, grace >= 0 else {
            throw ValidationError("-check-interval must be above 0 and -grace at least 0.")
        }
        guard idleTimeout > 0, maxConnections >= 1, maxRegistrations >= 1 else {
            throw ValidationError("-idle-timeout, -max-connections and -max-registrations must be positive.")
        }
        guard quorum >= 1 else { throw ValidationError("-quorum must be at least 1, not \(quorum).") }
        guard statsInterval >= 0 else { throw ValidationError("-stats-interval must be 0 (none) or more, not \(statsInterval).") }
        guard (1...256).contains(threads) else { throw ValidationError("-threads must be from 1 to 256, not \(threads).") }
        guard PeerAddress.isValidHost(host) else { throw ValidationError("-host \"\(host)\" is not an address or host name.") }
        for (flag, value) in [("-http-port", httpPort), ("-udp-port", udpPort)] {
            guard let value else { continue }
            guard PeerAddress.isValidPort(value) else { throw ValidationError("\(flag) \(value) is not a port; use a number from 1 to 65535.") }
        }
        if let httpPort, httpPort == port { throw ValidationError("-http-port \(httpPort) is the classic -port too; give each its own.") }
        guard announceInterval >= 1 else { throw ValidationError("-announce-interval must be at least 1 second, not \(announceInterval).") }
        if let minInterval, !(0...announceInterval).contains(minInterval) {
            throw ValidationError("-min-interval must be from 0 to -announce-interval (\(announceInterval)), not \(minInterval).")
        }
        guard (1...10_000).contains(maxNumwant) else { throw ValidationError("-max-numwant must be from 1 to 10000, not \(maxNumwant).") }
        guard (1...256).contains(bitTorrentThreads) else { throw ValidationError("-bittorrent-threads must be from 1 to 256, not \(bitTorrentThreads).") }
        guard httpTimeout > 0 else { throw ValidationError("-http-timeout must be above 0, not \(httpTimeout).") }
    }

    func run() async throws {
        SignalTrap.ignoreBrokenPipes()
        MemoryReuse.keepFreedMemory()
        let logFile = try LogFile()
        let seedLog = LineLogHandler.seed(name: name, file: logFile)
        let console = LineLogHandler.console(name: name, level: verbose ? .info : .notice)
        let logger = Logger(label: name) { _ in MultiplexLogHandler([seedLog, console]) }
        // Two lines per question: written straight to the log (and to the console with -verbose).
        let verbose = verbose
        let messages = MessageLog { line in
            seedLog.write(line, level: .info)
            if verbose { console.write(line, level: .info) }
        }
        let registry = TrackerRegistry(quorum: quorum)
        let monitor = HolderMonitor(
            registry: registry,
            interval: .milliseconds(Int(checkInterval * 1000)),
            grace: .milliseconds(Int(grace * 1000)),
            logger: logger
        )
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let metrics = TrackerMetrics()
        let server: TrackerServer
        do {
            var limits = TrackerLimits()
            limits.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
            limits.maxConnections = maxConnections
            limits.maxRegistrationsPerConnection = maxRegistrations
            server = try await TrackerServer.start(
                host: host, port: port, registry: registry, monitor: monitor, limits: limits, logger: logger,
                messages: messages, metrics: metrics, group: group)
        } catch {
            throw TrackerFailure(description: ListenFailure(host: host, port: port, error: error).message(portFlag: "-port"))
        }
        logger.notice("tracker listening on \(server.localAddress) (quorum \(quorum))")
        let bitTorrent = try await startBitTorrent(classic: server, metrics: metrics, logger: logger)
        let signals = SignalTrap(signals: SignalTrap.stopSignals) { signal in
            logger.notice("signal \(signal): stopping")
            Task {
                await bitTorrent.shutdown()
                await server.shutdown()
            }
        }
        let monitoring = Task { await monitor.run() }
        let reporting = Task { await Self.report(server, every: statsInterval, to: logger) }
        try await server.closeFuture()
        monitoring.cancel()
        reporting.cancel()
        bitTorrent.sweeping?.cancel()
        try? await bitTorrent.group?.shutdownGracefully()
        signals.cancel()
        try? await group.shutdownGracefully()
    }

    /// Logs a summary line at notice level every `seconds` in which anything was asked.
    private static func report(_ server: TrackerServer, every seconds: Double, to logger: Logger) async {
        guard seconds > 0 else { return }
        let interval = Duration.milliseconds(Int(seconds * 1000))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let (questions, registrations) = server.activity.takeCounts()
            guard questions + registrations > 0 else { continue }
            let registry = server.registry
            logger.notice(
                "last \(interval.secondsText): \(questions) WHERE_CHUNK, \(registrations) LOCAL_CHUNKS; now \(server.openConnections) connections, \(registry.chunkCount) chunks, \(registry.registrationCount) registrations"
            )
        }
    }
}

/// The tracker cannot run, for a reason the user must fix (not a wrong flag: no usage follows).
struct TrackerFailure: Error, CustomStringConvertible {
    let description: String
}
