import Logging
import NIOCore
import NIOHTTP1
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Answers one HTTP connection's requests: announces and scrapes from the ``TorrentSwarms``,
/// the metrics, the status page; anything else gets a clear 4xx. A request with a body is
/// refused before its body is read; a client that does not send a whole request within
/// ``HTTPTrackerLimits/requestTimeout`` is disconnected.
final class HTTPTrackerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let swarms: TorrentSwarms
    private let metrics: TrackerMetrics
    private let limits: HTTPTrackerLimits
    private let allowClaimedAddress: Bool
    private let started: ContinuousClock.Instant
    private let logger: Logger
    private let snapshot: () -> TrackerMetrics.Snapshot
    /// The answer to the request being read, sent once its end arrives.
    private var pending: (head: HTTPResponseHead, body: ByteBuffer, kind: String?, read: ContinuousClock.Instant)?
    /// Set once the connection is to close: what else arrives is ignored.
    private var closing = false
    private var timeout: Scheduled<Void>?
    /// The last answer's write, which a close waits for.
    private var lastWrite: EventLoopFuture<Void>?

    init(
        swarms: TorrentSwarms, metrics: TrackerMetrics, limits: HTTPTrackerLimits, allowClaimedAddress: Bool, started: ContinuousClock.Instant,
        logger: Logger, snapshot: @escaping () -> TrackerMetrics.Snapshot
    ) {
        self.swarms = swarms
        self.metrics = metrics
        self.limits = limits
        self.allowClaimedAddress = allowClaimedAddress
        self.started = started
        self.logger = logger
        self.snapshot = snapshot
    }

    func handlerAdded(context: ChannelHandlerContext) { armTimeout(context) }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    /// Closes the connection unless a whole request arrives in time.
    private func armTimeout(_ context: ChannelHandlerContext) {
        timeout?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: limits.requestTimeout) { [metrics] in
            metrics.refused(.http, "timeout")
            loopBound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending = answer(to: head, context: context)
            if closing, let pending { send(pending, context: context) }
        case .body:
            break
        case .end:
            guard let pending else { return }
            send(pending, context: context)
            armTimeout(context)
        }
    }

    private func send(_ answer: (head: HTTPResponseHead, body: ByteBuffer, kind: String?, read: ContinuousClock.Instant), context: ChannelHandlerContext) {
        pending = nil
        context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        lastWrite = written
        if closing { closeAfterWrites(context) }
        if let kind = answer.kind { metrics.answered(.http, kind, after: ContinuousClock.now - answer.read) }
    }

    /// Closes once what was written has gone out.
    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        guard let lastWrite else { return context.close(promise: nil) }
        lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client half-closed: answer what it asked, then close.
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            closing = true
            if pending == nil { closeAfterWrites(context) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // NIO's error handler has answered 400 for a malformed or oversized request.
        metrics.refused(.http, error is HTTPParserError ? "malformed_request" : "connection_error")
        context.close(promise: nil)
    }

    // MARK: Answers

    private func answer(to head: HTTPRequestHead, context: ChannelHandlerContext) -> (head: HTTPResponseHead, body: ByteBuffer, kind: String?, read: ContinuousClock.Instant) {
        let read = ContinuousClock.now
        func reply(_ status: HTTPResponseStatus, _ body: ByteBuffer, type: String = "text/plain; charset=utf-8", kind: String? = nil, error: String? = nil)
            -> (head: HTTPResponseHead, body: ByteBuffer, kind: String?, read: ContinuousClock.Instant)
        {
            if let error {
                metrics.refused(.http, error)
                closing = closing || status.code >= 400
            }
            // A client that asked to close is answered at once, the rest of its request unread.
            closing = closing || !head.isKeepAlive
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: String(head.method == .HEAD ? 0 : body.readableBytes))
            headers.add(name: "Connection", value: closing ? "close" : "keep-alive")
            return (HTTPResponseHead(version: head.version, status: status, headers: headers), head.method == .HEAD ? ByteBuffer() : body, kind, read)
        }
        func text(_ string: String) -> ByteBuffer { ByteBuffer(string: string + "\n") }

        guard head.method == .GET || head.method == .HEAD else {
            return reply(.methodNotAllowed, text("only GET and HEAD are served"), error: "method")
        }
        let length = head.headers["content-length"].first.flatMap { Int($0) } ?? 0
        guard length == 0, head.headers["transfer-encoding"].isEmpty else {
            return reply(.payloadTooLarge, text("requests to a tracker carry no body"), error: "body")
        }
        let uri = Array(head.uri.utf8)
        let mark = uri.firstIndex(of: UInt8(ascii: "?")) ?? uri.endIndex
        let path = String(decoding: uri[..<mark], as: UTF8.self)
        let query = mark == uri.endIndex ? uri[mark...] : uri[(mark + 1)...]
        let bencoded = "text/plain"
        switch path {
        case "/announce":
            do {
                let announce = try AnnounceQuery(query: query)
                guard let address = peerAddress(announce, context: context) else {
                    return reply(.ok, BencodedAnswer.failure("cannot tell your address", retryAfter: swarms.settings.interval), type: bencoded, error: "bad_address")
                }
                let answer = swarms.announce(announce, from: address, now: swarms.now)
                return reply(.ok, BencodedAnswer.announce(answer, settings: swarms.settings, compact: announce.compact), type: bencoded, kind: "announce")
            } catch {
                return reply(.ok, BencodedAnswer.failure(error.description, retryAfter: swarms.settings.interval), type: bencoded, error: "bad_announce")
            }
        case "/scrape":
            do {
                let scrape = try ScrapeQuery(query: query, limit: limits.maxScrapeHashes)
                return reply(.ok, BencodedAnswer.scrape(scrape.infoHashes, counts: swarms.scrape(scrape.infoHashes)), type: bencoded, kind: "scrape")
            } catch {
                return reply(.ok, BencodedAnswer.failure(error.description, retryAfter: swarms.settings.interval), type: bencoded, error: "bad_scrape")
            }
        case "/metrics":
            metrics.answered(.http, "metrics")
            return reply(.ok, ByteBuffer(bytes: metrics.exposition(snapshot())), type: "text/plain; version=0.0.4; charset=utf-8")
        case "/":
            metrics.answered(.http, "status")
            let figures = snapshot()
            return reply(.ok, ByteBuffer(string: StatusPage.render(figures, exposition: metrics.exposition(figures), uptime: ContinuousClock.now - started)))
        default:
            return reply(.notFound, text("not found: this tracker serves /announce, /scrape, /metrics and /"), error: "not_found")
        }
    }

    /// Where the peer that announced can be reached: the address its request came from (its
    /// `ip=` instead, when allowed and valid), at the port it announced.
    private func peerAddress(_ announce: AnnounceQuery, context: ChannelHandlerContext) -> CompactPeer? {
        if allowClaimedAddress, let claimed = announce.claimedAddress, let peer = CompactPeer(host: claimed, port: announce.port) { return peer }
        return CompactPeer(context.remoteAddress, port: announce.port)
    }
}

extension CompactPeer {
    /// The address of `socket` with `port` (an IPv4-mapped IPv6 address counts as IPv4).
    init?(_ socket: SocketAddress?, port: Int) {
        guard let port = UInt16(exactly: port), port > 0 else { return nil }
        switch socket {
        case .v4(let address)?:
            self.init(ipv4: UInt32(bigEndian: address.address.sin_addr.s_addr), port: port)
        case .v6(let address)?:
            var raw = address.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            self.init(ipv6: bytes, port: port)
        default:
            return nil
        }
    }
}
