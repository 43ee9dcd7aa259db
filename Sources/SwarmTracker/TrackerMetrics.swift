import CoreMetrics
import Prometheus

/// The protocols a tracker process answers, as the metrics label them.
public enum TrackerProtocol: String, Sendable, CaseIterable {
    case classic, http, udp
}

/// What the tracker counts, through swift-metrics into a Prometheus registry of its own, and
/// written in Prometheus's text exposition format for `GET /metrics`:
///
/// - `swarm_tracker_requests_total{protocol, kind}`: answered requests (`classic`:
///   `local_chunks`, `where_chunk`; `http`: `announce`, `scrape`, `metrics`, `status`; `udp`:
///   `connect`, `announce`, `scrape`);
/// - `swarm_tracker_errors_total{protocol, kind}`: refused requests by what was wrong;
/// - `swarm_tracker_answer_seconds{protocol}`: a histogram of the time from a request read to
///   its answer written;
/// - gauges `swarm_tracker_torrents`, `_peers`, `_seeders`, `_chunks`, `_registrations` and
///   `_connections{protocol}`, set when the metrics are read.
public final class TrackerMetrics: Sendable {
    /// The Prometheus registry everything is kept in.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let requests: [String: CoreMetrics.Counter]
    private let latency: [TrackerProtocol: CoreMetrics.Timer]

    /// The request kinds counted for each protocol.
    public static let kinds: [TrackerProtocol: [String]] = [
        .classic: ["local_chunks", "where_chunk"],
        .http: ["announce", "scrape", "metrics", "status"],
        .udp: ["connect", "announce", "scrape"],
    ]

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["swarm_tracker_answer_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .seconds(1),
        ]
        self.factory = factory
        var requests: [String: CoreMetrics.Counter] = [:]
        for (proto, kinds) in Self.kinds {
            for kind in kinds {
                requests["\(proto.rawValue)/\(kind)"] = CoreMetrics.Counter(
                    label: "swarm_tracker_requests_total", dimensions: [("protocol", proto.rawValue), ("kind", kind)], factory: factory)
            }
        }
        self.requests = requests
        latency = Dictionary(uniqueKeysWithValues: TrackerProtocol.allCases.map {
            ($0, CoreMetrics.Timer(label: "swarm_tracker_answer_seconds", dimensions: [("protocol", $0.rawValue)], factory: factory))
        })
    }

    /// Counts one answered request of `kind` (one of ``kinds``), with its time from read to answer.
    public func answered(_ proto: TrackerProtocol, _ kind: String, after duration: Duration? = nil) {
        requests["\(proto.rawValue)/\(kind)"]?.increment()
        if let duration { latency[proto]?.recordNanoseconds(Int64(duration / .nanoseconds(1))) }
    }

    /// Counts one refused request, `kind` naming what was wrong (`bad_query`, `too_large`…).
    public func refused(_ proto: TrackerProtocol, _ kind: String) {
        CoreMetrics.Counter(label: "swarm_tracker_errors_total", dimensions: [("protocol", proto.rawValue), ("kind", kind)], factory: factory).increment()
    }

    /// What the gauges show, gathered when the metrics are read.
    public struct Snapshot: Sendable {
        public var swarms = TorrentSwarms.Totals()
        public var chunks = 0
        public var registrations = 0
        public var connections: [TrackerProtocol: Int] = [:]

        public init() {}

        /// The figures of `swarms` and of the classic `server` now.
        public init(swarms: TorrentSwarms, classic server: TrackerServer) {
            self.swarms = swarms.totals
            chunks = server.registry.chunkCount
            registrations = server.registry.registrationCount
            connections[.classic] = server.openConnections
        }
    }

    /// The whole registry in Prometheus's text format, the gauges set from `snapshot` first.
    public func exposition(_ snapshot: Snapshot) -> [UInt8] {
        let gauges: [(String, Int)] = [
            ("swarm_tracker_torrents", snapshot.swarms.torrents), ("swarm_tracker_peers", snapshot.swarms.peers),
            ("swarm_tracker_seeders", snapshot.swarms.seeders), ("swarm_tracker_chunks", snapshot.chunks),
            ("swarm_tracker_registrations", snapshot.registrations),
        ]
        for (name, value) in gauges { CoreMetrics.Gauge(label: name, factory: factory).record(value) }
        for proto in TrackerProtocol.allCases where proto != .udp {
            CoreMetrics.Gauge(label: "swarm_tracker_connections", dimensions: [("protocol", proto.rawValue)], factory: factory).record(snapshot.connections[proto] ?? 0)
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return bytes
    }
}
