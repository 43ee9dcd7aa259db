import SwarmCore
import SwarmProtocol

@testable import SwarmTUI

/// Scripted swarms for reducer and view tests: the same events at the same times, every run.
enum Fixtures {
    static func peer(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port)! }

    /// A download in full swing over `total` chunks: a third held, some downloading, some
    /// available at 1–3 peers, some nowhere, one failed; three peers; a few log lines.
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
            state.reduce(.requested(ChunkIndex(2), from: peer(6001)), at: 1)
            state.reduce(.receiving(ChunkIndex(2), from: peer(6001), bytes: 3 << 20), at: 2)
        }
        if total >= 4 {
            state.reduce(.requested(ChunkIndex(4), from: peer(6002)), at: 1)
            state.reduce(.fetched(ChunkIndex(4), from: peer(6002), bytes: 1 << 20, seconds: 0.5), at: 1.5)
        }
        if total >= 5 {
            state.reduce(.requested(ChunkIndex(5), from: peer(6003)), at: 1)
            state.reduce(.failed(ChunkIndex(5), from: peer(6003), reason: "sent 10 bytes with SHA-1 x, expected y"), at: 1.6)
        }
        state.reduce(.served(ServeReport(index: ChunkIndex(3), peer: "127.0.0.1:50123", outcome: .served(bytes: 1 << 20))), at: 2)
        state.tick(at: 3)
        return state
    }
}
