import AsyncHTTPClient
import NIOCore
import SwarmCore
import TorrentProtocol

extension TorrentSession {
    /// How long one announce may take.
    static let announceTimeout: TimeAmount = .seconds(15)

    /// The HTTP client for announces: a tracker that refuses connections fails the announce at
    /// once (the next tier is tried, or the backoff starts) instead of being dialled again and
    /// again until the announce times out, as the shared client does.
    static let announcer: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(15))
        configuration.redirectConfiguration = .follow(max: 3, allowCycles: false)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Announces `started`, then again at each tracker's interval (and `completed` as soon as
    /// the download completes), trying the `announce-list` tiers in order (BEP 12): within a
    /// tier, the first tracker that answers moves to its front. A tracker that is down is
    /// retried with backoff while the peers already known go on trading.
    func announceLoop() async {
        var tiers = metainfo.announceTiers.map { $0.filter(Self.isSupported) }.filter { !$0.isEmpty }
        guard !tiers.isEmpty else {
            let reason = metainfo.announceTiers.isEmpty ? "the torrent names no tracker" : "no tracker it names is HTTP, HTTPS or UDP"
            emit(.tracker(.retrying(in: .seconds(3600), reason: reason)))
            emit(.problem("\(reason): waiting for peers to connect"))
            return
        }
        var event: AnnounceEvent? = .started
        var failures = 0
        emit(.tracker(.connecting))
        while !Task.isCancelled {
            if completedToAnnounce, event == nil { event = .completed }
            let wait: Duration
            switch await announce(event, tiers: &tiers) {
            case .success(let answer):
                failures = 0
                if event == .completed { completedToAnnounce = false }
                event = nil
                emit(.tracker(.connected(fastPath: true)))
                emit(.swarmSize(seeds: answer.complete, leechers: answer.incomplete))
                learn(answer.peers)
                if let warning = answer.warning { emit(.problem("tracker warns: \(warning)")) }
                wait = .seconds(max(answer.minimumInterval ?? 0, answer.interval, 1))
            case .failure(let error):
                let delay: Duration
                if case .failure(_, let retryIn?) = error as? AnnounceError {
                    delay = .seconds(max(1, retryIn))
                } else {
                    delay = configuration.announceBackoff.delay(attempt: failures)
                }
                failures += 1
                let reason = error is AnnounceError ? "\(error)" : ConnectionErrorText.describe(error)
                logger.warning("announce failed: \(reason)")
                emit(.tracker(.retrying(in: delay, reason: reason)))
                wait = delay
            }
            // Sleep in short steps, so a completed download is announced at once.
            let deadline = ContinuousClock.now + wait
            while ContinuousClock.now < deadline, !Task.isCancelled {
                if completedToAnnounce, event == nil { break }
                try? await Task.sleep(for: min(.seconds(1), deadline - .now))
            }
        }
    }

    /// One announce, tier by tier; the first answer wins.
    private func announce(_ event: AnnounceEvent?, tiers: inout [[String]]) async -> Result<AnnounceResponse, any Error> {
        let request = AnnounceRequest(
            infoHash: metainfo.infoHash, peerID: configuration.peerID, port: listenPort,
            uploaded: uploaded, downloaded: downloaded, left: book.bytesLeft, event: event)
        var lastError: any Error = AnnounceError.malformed("no tracker tried")
        for tier in tiers.indices {
            for (position, url) in tiers[tier].enumerated() {
                do {
                    let answer = try await send(request, to: url)
                    if position > 0 { tiers[tier].insert(tiers[tier].remove(at: position), at: 0) }
                    logger.info("announced \(event?.rawValue ?? "update") to \(url): \(answer.peers.count) peers, next in \(answer.interval) s")
                    return .success(answer)
                } catch {
                    lastError = error
                    if let refusal = error as? AnnounceError, case .failure = refusal {
                        // Said even when another tracker answers: its operator refused us.
                        emit(.problem("tracker \(url): \(refusal)"))
                    }
                }
            }
        }
        return .failure(lastError)
    }

    /// Says `stopped` to the trackers that answered, briefly: the client is leaving.
    func announceStopped() async {
        guard let url = metainfo.announceTiers.flatMap({ $0 }).first(where: Self.isSupported) else { return }
        let request = AnnounceRequest(
            infoHash: metainfo.infoHash, peerID: configuration.peerID, port: listenPort,
            uploaded: uploaded, downloaded: downloaded, left: book.bytesLeft, event: .stopped, numberWanted: 0)
        // At most two seconds, whatever the tracker: the user is waiting for the exit.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await self.send(request, to: url, timeout: .seconds(2)) }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
    }

    static func isSupported(_ url: String) -> Bool {
        url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("udp://")
    }

    /// Sends one announce over UDP (BEP 15) or HTTP(S), and reads the answer.
    func send(_ request: AnnounceRequest, to url: String, timeout: TimeAmount = announceTimeout) async throws -> AnnounceResponse {
        if url.hasPrefix("udp://") {
            return try await udpTracker.announce(request, to: url)
        }
        return try await Self.sendHTTP(request, to: url, timeout: timeout)
    }

    /// Sends one announce over HTTP(S) and reads the answer.
    static func sendHTTP(_ request: AnnounceRequest, to url: String, timeout: TimeAmount) async throws -> AnnounceResponse {
        var http = HTTPClientRequest(url: request.url(base: url))
        http.headers.add(name: "User-Agent", value: "Swarm/0.1.0")
        let response = try await announcer.execute(http, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw AnnounceError.malformed("HTTP \(response.status.code) from \(url)") }
        return try AnnounceResponse(parsing: Array(buffer: body))
    }
}
