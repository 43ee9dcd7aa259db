import Foundation
import Logging
import LoopbackSupport
import NIOCore
import NIOPosix
import SwarmProtocol
import Testing
import TorrentProtocol

@testable import SwarmTracker

#if canImport(Glibc)
import Glibc
#endif

/// One tracker process's three front ends as `tracker` runs them: classic on one event loop,
/// HTTP and UDP on a group of their own (one thread per core), in the test's process.
final class TrackerUnderTest: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let bitTorrentGroup = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    let metrics = TrackerMetrics()
    let swarms: TorrentSwarms
    let classic: TrackerServer
    let http: HTTPTrackerServer
    let udp: UDPTrackerServer

    init(requestTimeout: TimeAmount = .seconds(10), allowClaimedAddress: Bool = false) async throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        var settings = TorrentSwarms.Settings()
        settings.maximumWanted = 20
        swarms = TorrentSwarms(settings: settings)
        classic = try await TrackerServer.start(host: "127.0.0.1", port: 0, registry: TrackerRegistry(), logger: logger, metrics: metrics, group: group)
        var limits = HTTPTrackerLimits()
        limits.requestTimeout = requestTimeout
        let (classicServer, swarms) = (classic, swarms)
        http = try await HTTPTrackerServer.start(
            host: "127.0.0.1", port: 0, swarms: swarms, metrics: metrics,
            snapshot: { TrackerMetrics.Snapshot(swarms: swarms, classic: classicServer) }, allowClaimedAddress: allowClaimedAddress, limits: limits, logger: logger, group: bitTorrentGroup)
        udp = try await UDPTrackerServer.start(host: "127.0.0.1", port: 0, swarms: swarms, metrics: metrics, logger: logger, group: bitTorrentGroup)
    }

    var httpPort: Int { http.localAddress.port! }
    var udpPort: Int { udp.localAddress.port! }
    var classicPort: Int { classic.localAddress.port! }

    func stop() async {
        await http.shutdown()
        await udp.shutdown()
        await classic.shutdown()
        try? await group.shutdownGracefully()
        try? await bitTorrentGroup.shutdownGracefully()
    }

    /// Whether metric `name` reaches `value` within five seconds (it is counted on the event
    /// loop, which may be a moment behind the answer the test read).
    func waitForMetric(_ name: String, toReach value: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while (metric(name) ?? 0) < value, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return metric(name) == value
    }

    /// The value of one line of `/metrics`, e.g. `swarm_tracker_errors_total{protocol="http",kind="body"}`.
    func metric(_ name: String) -> Double? {
        let text = String(decoding: metrics.exposition(TrackerMetrics.Snapshot()), as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }
}

/// Runs blocking `work` on a thread of its own, never on the threads the tests' tasks share (as
/// many as cores): a test blocked there for seconds holds up every other test's tasks, and
/// connections waiting on them time out.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// HTTP and UDP exchanges with a tracker on 127.0.0.1, each bounded by a read timeout, run on
/// threads of their own.
enum Probe {
    /// Sends `request` as it is; the whole answer (status line, headers, body) once the server
    /// has sent `Content-Length` bytes of body or closed, and whether it closed.
    static func http(port: Int, _ request: [UInt8], timeout: Duration = .seconds(10)) async -> (text: String, closed: Bool) {
        await onOwnThread {
            guard let socket = LoopbackSocket.connected(port: port, readTimeout: timeout) else { return ("refused", true) }
            defer { close(socket) }
            return http(on: socket, request)
        }
    }

    /// ``http(port:_:timeout:)`` on an open connection, which stays open for the next request.
    static func http(on socket: Int32, _ request: [UInt8]) -> (text: String, closed: Bool) {
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { break }  // It closed on us mid-request: read what it said.
            sent += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = answer.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: answer[..<end.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }.flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
                if let length, answer.count - end.upperBound >= length { return (String(decoding: answer, as: UTF8.self), false) }
            }
            let count = read(socket, &buffer, buffer.count)
            guard count > 0 else { return (String(decoding: answer, as: UTF8.self), count == 0) }
            answer += buffer[0..<count]
        }
    }

    static func get(port: Int, _ target: String, headers: String = "") async -> String {
        await http(port: port, Array("GET \(target) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n".utf8)).text
    }

    /// Sends one datagram; the answer, or nil when none came within `timeout`.
    static func udp(port: Int, _ packet: ByteBuffer, timeout: Duration = .seconds(5)) async -> ByteBuffer? {
        await onOwnThread { udpNow(port: port, packet, timeout: timeout) }
    }

    private static func udpNow(port: Int, _ packet: ByteBuffer, timeout: Duration) -> ByteBuffer? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(socket) }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = LoopbackSocket.address(port: port)
        let bytes = Array(buffer: packet)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var answer = [UInt8](repeating: 0, count: 65536)
        let count = recv(socket, &answer, answer.count, 0)
        return count >= 0 ? ByteBuffer(bytes: answer[0..<count]) : nil
    }

    /// A query string for an announce of `peer` (a number) in `torrent`.
    static func announce(torrent: UInt8 = 1, peer: Int, extra: String = "&port=6881&left=10&compact=1") -> String {
        let peerID = Array("-TT0001-\(String(format: "%012d", peer))".utf8)
        return "/announce?info_hash=" + AnnounceRequest.percentEncoded([UInt8](repeating: torrent, count: 20)) + "&peer_id=" + AnnounceRequest.percentEncoded(peerID) + extra
    }
}
