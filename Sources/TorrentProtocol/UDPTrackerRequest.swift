import NIOCore

/// A packet a UDP tracker receives (BEP 15), read and checked.
public enum UDPTrackerRequest: Sendable, Equatable {
    case connect(transaction: UInt32)
    case announce(connectionID: UInt64, transaction: UInt32, AnnounceQuery)
    case scrape(connectionID: UInt64, transaction: UInt32, [InfoHash])

    /// At most this many info-hashes in one scrape (what fits one answer of 900 bytes).
    public static let scrapeLimit = 74

    /// What a packet is: a request, one to answer with an error, or one to drop silently (too
    /// short to carry even a transaction id to answer with).
    public enum Reading: Sendable, Equatable {
        case request(UDPTrackerRequest)
        case refuse(transaction: UInt32, reason: String)
        case drop(reason: String)
    }

    /// Reads one datagram.
    public static func read(_ packet: ByteBuffer) -> Reading {
        var packet = packet
        guard packet.readableBytes >= 16, let connectionID = packet.readInteger(as: UInt64.self), let action = packet.readInteger(as: UInt32.self),
            let transaction = packet.readInteger(as: UInt32.self)
        else { return .drop(reason: "a packet of \(packet.readableBytes) bytes, shorter than any request (16)") }
        switch action {
        case 0:
            guard connectionID == UDPTrackerPacket.protocolID else {
                return .refuse(transaction: transaction, reason: "connect without BEP 15's protocol id")
            }
            return .request(.connect(transaction: transaction))
        case 1:
            guard packet.readableBytes >= 82, let hash = packet.readBytes(length: 20), let peerID = packet.readBytes(length: 20),
                let downloaded = packet.readInteger(as: Int64.self), let left = packet.readInteger(as: Int64.self),
                let uploaded = packet.readInteger(as: Int64.self), let eventNumber = packet.readInteger(as: UInt32.self),
                let address = packet.readInteger(as: UInt32.self), packet.readInteger(as: UInt32.self) != nil,
                let wanted = packet.readInteger(as: Int32.self), let port = packet.readInteger(as: UInt16.self)
            else { return .refuse(transaction: transaction, reason: "an announce shorter than 98 bytes") }
            guard let infoHash = InfoHash(bytes: hash) else { return .refuse(transaction: transaction, reason: "bad info_hash") }
            let event: AnnounceEvent?
            switch eventNumber {
            case 0: event = nil
            case 1: event = .completed
            case 2: event = .started
            case 3: event = .stopped
            default: return .refuse(transaction: transaction, reason: "event \(eventNumber) is not 0-3")
            }
            guard port > 0 else { return .refuse(transaction: transaction, reason: "port 0 is not a port (1-65535)") }
            guard downloaded >= 0, left >= 0, uploaded >= 0 else { return .refuse(transaction: transaction, reason: "a negative amount") }
            let claimed = address == 0 ? nil : [24, 16, 8, 0].map { String(address >> $0 & 0xff) }.joined(separator: ".")
            let query = AnnounceQuery(
                infoHash: infoHash, peerID: peerID, port: Int(port), uploaded: uploaded, downloaded: downloaded, left: left, event: event,
                numberWanted: wanted < 0 ? nil : Int(wanted), claimedAddress: claimed)
            return .request(.announce(connectionID: connectionID, transaction: transaction, query))
        case 2:
            guard packet.readableBytes > 0, packet.readableBytes % 20 == 0, packet.readableBytes / 20 <= scrapeLimit else {
                return .refuse(transaction: transaction, reason: "a scrape carries 1 to \(scrapeLimit) info-hashes of 20 bytes")
            }
            var hashes: [InfoHash] = []
            while let bytes = packet.readBytes(length: 20), let hash = InfoHash(bytes: bytes) { hashes.append(hash) }
            return .request(.scrape(connectionID: connectionID, transaction: transaction, hashes))
        default:
            return .refuse(transaction: transaction, reason: "unknown action \(action)")
        }
    }
}

/// The packets a UDP tracker sends (BEP 15).
extension UDPTrackerPacket {
    /// The answer to `connect`.
    public static func connected(transaction: UInt32, connectionID: UInt64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(0), transaction, connectionID)
        return buffer
    }

    /// The head of an announce answer; the peers (6 or 18 bytes each) follow.
    public static func writeAnnounced(transaction: UInt32, interval: Int, leechers: Int, seeders: Int, into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(UInt32(1), transaction, UInt32(clamping: interval), UInt32(clamping: leechers), UInt32(clamping: seeders))
    }

    /// The answer to a scrape: seeders, completed and leechers for each hash asked.
    public static func scraped(transaction: UInt32, _ counts: [(seeders: Int, completed: Int, leechers: Int)]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(2), transaction)
        for count in counts {
            buffer.writeMultipleIntegers(UInt32(clamping: count.seeders), UInt32(clamping: count.completed), UInt32(clamping: count.leechers))
        }
        return buffer
    }

    /// An error answer with `message`.
    public static func error(transaction: UInt32, message: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(3), transaction)
        buffer.writeString(message)
        return buffer
    }
}
