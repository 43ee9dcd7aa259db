import NIOCore
import TorrentProtocol

/// The bytes a tracker sends BitTorrent clients over HTTP: bencoded dictionaries, keys sorted,
/// written straight into a buffer.
enum BencodedAnswer {
    /// An announce answer: counts, intervals, and the peers as BEP 23's compact strings
    /// (`peers`, 6 bytes each, always there; `peers6`, 18 bytes each, when there are IPv6 peers),
    /// or as a list of dictionaries for a client that sent `compact=0`.
    static func announce(_ answer: TorrentSwarms.Answer, settings: TorrentSwarms.Settings, compact: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(160 + answer.peers.count * 18)
        buffer.writeStaticString("d8:completei")
        buffer.writeString(String(answer.complete))
        buffer.writeStaticString("e10:downloadedi")
        buffer.writeString(String(answer.downloaded))
        buffer.writeStaticString("e10:incompletei")
        buffer.writeString(String(answer.incomplete))
        buffer.writeStaticString("e8:intervali")
        buffer.writeString(String(settings.interval))
        buffer.writeStaticString("e12:min intervali")
        buffer.writeString(String(settings.minimumInterval))
        buffer.writeStaticString("e5:peers")
        if compact {
            let (v4, v6) = (answer.peers.filter { !$0.isIPv6 }, answer.peers.filter(\.isIPv6))
            writeCompact(v4, into: &buffer)
            if !v6.isEmpty {
                buffer.writeStaticString("6:peers6")
                writeCompact(v6, into: &buffer)
            }
        } else {
            buffer.writeStaticString("l")
            for peer in answer.peers {
                let host = peer.host
                buffer.writeString("d2:ip\(host.utf8.count):\(host)4:porti\(peer.port)ee")
            }
            buffer.writeStaticString("e")
        }
        buffer.writeStaticString("e")
        return buffer
    }

    private static func writeCompact(_ peers: [CompactPeer], into buffer: inout ByteBuffer) {
        buffer.writeString(String(peers.reduce(0) { $0 + $1.compactSize }))
        buffer.writeStaticString(":")
        for peer in peers { peer.write(to: &buffer) }
    }

    /// A scrape answer (BEP 48): `files`, each hash asked (once, in byte order) with its counts.
    static func scrape(_ hashes: [InfoHash], counts: [TorrentSwarms.Counts]) -> ByteBuffer {
        var unique: [[UInt8]: TorrentSwarms.Counts] = [:]
        for (hash, count) in zip(hashes, counts) { unique[hash.bytes] = count }
        var buffer = ByteBuffer()
        buffer.writeStaticString("d5:filesd")
        for hash in unique.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let count = unique[hash]!
            buffer.writeStaticString("20:")
            buffer.writeBytes(hash)
            buffer.writeString("d8:completei\(count.complete)e10:downloadedi\(count.downloaded)e10:incompletei\(count.incomplete)ee")
        }
        buffer.writeStaticString("ee")
        return buffer
    }

    /// A refusal: `failure reason`, with `interval` beside it so clients do not retry at once.
    static func failure(_ reason: String, retryAfter interval: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("d14:failure reason\(reason.utf8.count):\(reason)8:intervali\(interval)ee")
        return buffer
    }
}
