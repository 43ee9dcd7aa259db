import SwarmCore
import SwarmProtocol

@testable import SwarmTUI

/// Scripted swarms for reducer and view tests: the same events at the same times, every run.
enum Fixtures {
    static func peer(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port)! }

    /// A download in full swing over `total` chunks: a third held, some downloading, some
    /// available at 1–3 peers, some nowhere, one failed; a minute of traffic with a stall in the
    /// middle (for the rate graph); four peers, one on an ephemeral port; a few log lines and
    /// location look-ups (hidden until detail is on).
    static func swarm(total: Int) -> UIState {
        var state = UIState()
        state.trackerAddress = "127.0.0.1:5100"
        let held = Set((1...total).filter { $0 % 3 == 0 }.map(ChunkIndex.init))
        state.reduce(.started(name: "client1", folder: "/data/client1_chunks", total: total, held: held, serving: peer(6000)), at: 0)
        state.reduce(.tracker(.connected(fastPath: true)), at: 0.1)
        state.reduce(.registered(count: held.count), at: 0.1)
        for value in 1...total where value % 3 != 0 {
            let index = ChunkIndex(value)
            switch value % 7 {
            case 0: state.reduce(.nowhere(index), at: 0.5)
            case 1, 2: state.reduce(.surveyed(index, holders: [peer(6001)]), at: 0.5)
            case 4: state.reduce(.surveyed(index, holders: [peer(6001), peer(6002)]), at: 0.5)
            default: state.reduce(.surveyed(index, holders: [peer(6001), peer(6002), peer(6003)]), at: 0.5)
            }
        }
        if total >= 2 {
            state.reduce(.located(ChunkIndex(2), holders: [peer(6001)]), at: 1)
            state.reduce(.requested(ChunkIndex(2), from: peer(6001)), at: 1)
            // A ramp, a stall from 30 to 35 s, then a steady rate; served a mebibyte every 5 s.
            for second in 1...61 {
                let stalled = (30..<35).contains(second)
                let bytes = stalled ? 0 : min(second, 12) << 18
                if bytes > 0 { state.reduce(.receiving(ChunkIndex(2), from: peer(6001), bytes: bytes), at: Double(second) + 0.5) }
                if second % 5 == 0, second > 20 {
                    state.reduce(.served(ServeReport(index: ChunkIndex(3), peer: "127.0.0.1:50123", outcome: .served(bytes: 1 << 20))), at: Double(second))
                }
            }
        }
        if total >= 4 {
            state.reduce(.requested(ChunkIndex(4), from: peer(45817)), at: 59)
            state.reduce(.fetched(ChunkIndex(4), from: peer(45817), bytes: 256 << 10, seconds: 1.8), at: 60.8)
        }
        if total >= 5 {
            state.reduce(.requested(ChunkIndex(5), from: peer(6003)), at: 60)
            state.reduce(.failed(ChunkIndex(5), from: peer(6003), reason: "sent 10 bytes with SHA-1 x, expected y"), at: 61)
        }
        state.tick(at: 62)
        return state
    }
}

extension Fixtures {
    /// A torrent being downloaded and seeded: 40 pieces, a third held; three peers (libtorrent
    /// seeding to us, aria2 leeching from us, one incoming that chokes us), tracker counts.
    static func torrent() -> UIState {
        var state = UIState()
        state.trackerAddress = "http://127.0.0.1:6969/announce"
        let total = 40
        let held = Set((1...total).filter { $0 % 3 == 0 }.map(ChunkIndex.init))
        state.reduce(.started(name: "me", folder: "/data/downloads", total: total, held: held, serving: PeerAddress(host: "0.0.0.0", port: 6881)!), at: 0)
        state.reduce(.torrent(name: "debian-13.2.0-amd64-netinst.iso", bytes: 40 << 18), at: 0)
        state.reduce(.tracker(.connected(fastPath: true)), at: 0.2)
        state.reduce(.swarmSize(seeds: 12, leechers: 30), at: 0.2)
        var counts: [ChunkIndex: Int] = [:]
        for value in 1...total where value % 3 != 0 { counts[ChunkIndex(value)] = value % 5 == 0 ? 0 : value % 4 }
        state.reduce(.availability(counts), at: 1)
        let seeder = peer(51413)
        let leecher = peer(6882)
        let incoming = PeerAddress(host: "127.0.0.1", port: 40022)!
        state.reduce(.peerStatus(PeerStatus(address: seeder, client: "libtorrent 2.0.8.0", flags: "DU", progress: 1)), at: 1)
        state.reduce(.peerStatus(PeerStatus(address: leecher, client: "aria2 1.36.0", flags: "KU", progress: 0.425)), at: 1)
        state.reduce(.peerStatus(PeerStatus(address: incoming, client: "Transmission 4.0.5", flags: "duI", progress: 0.1)), at: 1)
        for value in [2, 4, 5, 7] { state.reduce(.requested(ChunkIndex(value), from: seeder), at: 1) }
        for second in 1...20 {
            state.reduce(.receiving(ChunkIndex(2), from: seeder, bytes: 3 << 20), at: Double(second) + 0.5)
            state.reduce(.uploaded(to: leecher, bytes: 1 << 20), at: Double(second) + 0.5)
        }
        state.reduce(.fetched(ChunkIndex(1), from: seeder, bytes: 256 << 10, seconds: 0.2), at: 20)
        state.reduce(.files([
            FileProgress(path: "album/01 - Overture.flac", bytes: 3 << 20, done: 1, priority: .normal),
            FileProgress(path: "album/02 - A very long title that cannot fit a narrow pane.flac", bytes: 4 << 20, done: 0.25, priority: .high),
            FileProgress(path: "album/cover.jpg", bytes: 200 << 10, done: 0, priority: .skip),
            FileProgress(path: "album/notes/liner.txt", bytes: 1, done: 0, priority: .normal),
        ]), at: 20)
        state.reduce(.peerDropped(PeerAddress(host: "127.0.0.1", port: 51000)!, reason: "stalled: 12 blocks asked, none sent for 30.0 s"), at: 20.5)
        state.tick(at: 21)
        return state
    }
}
