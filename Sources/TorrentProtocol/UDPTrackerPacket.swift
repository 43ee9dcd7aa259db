import NIOCore

/// The packets of the UDP tracker protocol (BEP 15): connect, announce and scrape requests, and
/// what a tracker answers.
public enum UDPTrackerPacket {
    /// The magic number a connect request starts with.
    public static let protocolID: UInt64 = 0x417_2710_1980

    /// What a tracker answered.
    public enum Answer: Sendable, Equatable {
        case connected(transaction: UInt32, connectionID: UInt64)
        case announced(transaction: UInt32, AnnounceResponse)
        case scraped(transaction: UInt32, [(seeders: Int, completed: Int, leechers: Int)])
        case error(transaction: UInt32, message: String)

        public static func == (lhs: Answer, rhs: Answer) -> Bool {
            switch (lhs, rhs) {
            case (.connected(let a, let b), .connected(let c, let d)): return a == c && b == d
            case (.announced(let a, let b), .announced(let c, let d)): return a == c && b == d
            case (.scraped(let a, let b), .scraped(let c, let d)):
                return a == c && b.count == d.count && zip(b, d).allSatisfy { $0 == $1 }
            case (.error(let a, let b), .error(let c, let d)): return a == c && b == d
            default: return false
            }
        }

        /// The transaction the answer is for.
        public var transaction: UInt32 {
            switch self {
            case .connected(let transaction, _), .announced(let transaction, _), .scraped(let transaction, _), .error(let transaction, _):
                return transaction
            }
        }
    }

    /// `connect`: 16 bytes.
    public static func connect(transaction: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(protocolID)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(transaction)
        return buffer
    }

    /// `announce`: 98 bytes, the event as BEP 15 numbers it.
    public static func announce(_ request: AnnounceRequest, connectionID: UInt64, transaction: UInt32, key: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(connectionID)
        buffer.writeInteger(UInt32(1))
        buffer.writeInteger(transaction)
        buffer.writeBytes(request.infoHash.bytes)
        buffer.writeBytes(request.peerID)
        buffer.writeInteger(UInt64(max(0, request.downloaded)))
        buffer.writeInteger(UInt64(max(0, request.left)))
        buffer.writeInteger(UInt64(max(0, request.uploaded)))
        let event: UInt32 =
            switch request.event {
            case nil: 0
            case .completed?: 1
            case .started?: 2
            case .stopped?: 3
            }
        buffer.writeInteger(event)
        buffer.writeInteger(UInt32(0))  // Our address: the one the packet comes from.
        buffer.writeInteger(key)
        buffer.writeInteger(Int32(request.numberWanted))
        buffer.writeInteger(UInt16(truncatingIfNeeded: request.port))
        return buffer
    }

    /// `scrape` for up to 74 info-hashes (what fits one packet).
    public static func scrape(_ hashes: [InfoHash], connectionID: UInt64, transaction: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(connectionID)
        buffer.writeInteger(UInt32(2))
        buffer.writeInteger(transaction)
        for hash in hashes.prefix(74) { buffer.writeBytes(hash.bytes) }
        return buffer
    }

    /// Reads a tracker's packet; `ipv6` when the tracker was reached over IPv6 (its peers are then
    /// 18 bytes each).
    public static func parse(_ packet: ByteBuffer, ipv6: Bool = false) throws(AnnounceError) -> Answer {
        var packet = packet
        guard let action = packet.readInteger(as: UInt32.self), let transaction = packet.readInteger(as: UInt32.self) else {
            throw .malformed("a UDP tracker packet of \(packet.readableBytes) bytes")
        }
        switch action {
        case 0:
            guard let id = packet.readInteger(as: UInt64.self) else { throw .malformed("a connect answer without its connection id") }
            return .connected(transaction: transaction, connectionID: id)
        case 1:
            guard let interval = packet.readInteger(as: UInt32.self), let leechers = packet.readInteger(as: UInt32.self),
                let seeders = packet.readInteger(as: UInt32.self)
            else { throw .malformed("an announce answer shorter than 20 bytes") }
            let size = ipv6 ? 18 : 6
            guard packet.readableBytes % size == 0 else { throw .malformed("announce peers of \(packet.readableBytes) bytes, not a multiple of \(size)") }
            var peers: [PeerEndpoint] = []
            while let entry = packet.readBytes(length: size) {
                let port = Int(entry[size - 2]) << 8 | Int(entry[size - 1])
                let host =
                    ipv6
                    ? stride(from: 0, to: 16, by: 2).map { String(Int(entry[$0]) << 8 | Int(entry[$0 + 1]), radix: 16) }.joined(separator: ":")
                    : entry[0..<4].map(String.init).joined(separator: ".")
                if port > 0 { peers.append(PeerEndpoint(host: host, port: port)) }
            }
            return .announced(
                transaction: transaction,
                AnnounceResponse(interval: Int(interval), complete: Int(seeders), incomplete: Int(leechers), peers: peers))
        case 2:
            var counts: [(Int, Int, Int)] = []
            while let seeders = packet.readInteger(as: UInt32.self), let completed = packet.readInteger(as: UInt32.self),
                let leechers = packet.readInteger(as: UInt32.self)
            {
                counts.append((Int(seeders), Int(completed), Int(leechers)))
            }
            return .scraped(transaction: transaction, counts)
        case 3:
            return .error(transaction: transaction, message: packet.readString(length: packet.readableBytes) ?? "")
        default:
            throw .malformed("a UDP tracker packet with unknown action \(action)")
        }
    }
}
