import NIOCore
import NIOPosix
import TorrentProtocol

/// Announces to (and scrapes) `udp://` trackers (BEP 15): a connect for a connection id, reused
/// for a minute, then the announce or scrape, each packet sent again after 15 s, then 30 s, as the spec says (its
/// doubling stops after ``attempts`` tries so that the next tier gets its turn).
actor UDPTrackerClient {
    /// The first wait for an answer; each later one is twice the one before.
    let firstTimeout: Duration
    /// Tries per packet.
    let attempts: Int
    /// Sent with every announce, so the tracker knows us whatever our address.
    private let key = UInt32.random(in: 0...UInt32.max)
    /// Connection ids by tracker, and when each was issued.
    private var connections: [String: (id: UInt64, issued: ContinuousClock.Instant)] = [:]

    init(firstTimeout: Duration = .seconds(15), attempts: Int = 2) {
        self.firstTimeout = firstTimeout
        self.attempts = attempts
    }

    /// One announce to `url` (`udp://host:port[/…]`).
    func announce(_ request: AnnounceRequest, to url: String) async throws -> AnnounceResponse {
        let address = try Self.address(of: url)
        let ipv6 = address.protocol == .inet6
        let connectionID = try await connectionID(for: url, at: address)
        let transaction = UInt32.random(in: 0...UInt32.max)
        let packet = UDPTrackerPacket.announce(request, connectionID: connectionID, transaction: transaction, key: key)
        switch try await exchange(packet, with: address, url: url, transaction: transaction, ipv6: ipv6) {
        case .announced(_, let answer):
            return answer
        case .error(_, let message):
            connections[url] = nil  // Perhaps our connection id: ask for a new one next time.
            throw AnnounceError.failure(message, retryIn: nil)
        default:
            throw AnnounceError.malformed("\(url) answered an announce with another action")
        }
    }

    /// Seeders, completed downloads and leechers of each of `hashes` (up to 74) at `url`.
    func scrape(_ hashes: [InfoHash], at url: String) async throws -> [(seeders: Int, completed: Int, leechers: Int)] {
        let address = try Self.address(of: url)
        let connectionID = try await connectionID(for: url, at: address)
        let transaction = UInt32.random(in: 0...UInt32.max)
        let packet = UDPTrackerPacket.scrape(hashes, connectionID: connectionID, transaction: transaction)
        switch try await exchange(packet, with: address, url: url, transaction: transaction, ipv6: address.protocol == .inet6) {
        case .scraped(_, let counts): return counts
        case .error(_, let message): throw AnnounceError.failure(message, retryIn: nil)
        default: throw AnnounceError.malformed("\(url) answered a scrape with another action")
        }
    }

    /// A connection id for `url`: the last one while it is under a minute old, else a new one.
    private func connectionID(for url: String, at address: SocketAddress) async throws -> UInt64 {
        if let cached = connections[url], ContinuousClock.now - cached.issued < .seconds(60) { return cached.id }
        let transaction = UInt32.random(in: 0...UInt32.max)
        switch try await exchange(UDPTrackerPacket.connect(transaction: transaction), with: address, url: url, transaction: transaction, ipv6: false) {
        case .connected(_, let id):
            connections[url] = (id, .now)
            return id
        case .error(_, let message):
            throw AnnounceError.failure(message, retryIn: nil)
        default:
            throw AnnounceError.malformed("\(url) answered a connect with another action")
        }
    }

    /// Sends `packet` until an answer to `transaction` comes, or every try has timed out.
    private func exchange(_ packet: ByteBuffer, with address: SocketAddress, url: String, transaction: UInt32, ipv6: Bool) async throws -> UDPTrackerPacket.Answer {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let (attempts, firstTimeout) = (self.attempts, self.firstTimeout)
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: UDPTrackerPacket.Answer?.self) { group in
                group.addTask {
                    for try await envelope in inbound {
                        // Stray or forged packets are not ours: only the transaction asked for counts.
                        if let answer = try? UDPTrackerPacket.parse(envelope.data, ipv6: ipv6), answer.transaction == transaction { return answer }
                    }
                    return nil
                }
                group.addTask {
                    for attempt in 0..<attempts {
                        try await outbound.write(AddressedEnvelope(remoteAddress: address, data: packet))
                        try await Task.sleep(for: firstTimeout * (1 << attempt))
                    }
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                guard let first else {
                    let waited = (0..<attempts).reduce(Duration.zero) { $0 + firstTimeout * (1 << $1) }
                    throw AnnounceError.noAnswer("\(url) sent nothing back in \(attempts) tries over \(waited.secondsText)")
                }
                return first
            }
        }
    }

    /// The tracker's address from `udp://host:port[/path]`.
    static func address(of url: String) throws -> SocketAddress {
        let rest = url.dropFirst("udp://".count)
        let hostAndPort = rest.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        guard let colon = hostAndPort.lastIndex(of: ":"), let port = Int(hostAndPort[hostAndPort.index(after: colon)...]), (1...65535).contains(port) else {
            throw AnnounceError.malformed("\(url) has no port")
        }
        var host = String(hostAndPort[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return try SocketAddress.makeAddressResolvingHost(host, port: port)
    }
}
