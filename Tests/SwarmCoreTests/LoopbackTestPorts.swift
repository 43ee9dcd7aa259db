import Foundation
import SwarmProtocol

@testable import SwarmCore

/// A TCP socket bound to a free port on 127.0.0.1, closed when this is gone.
class BoundLoopbackSocket: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { [descriptor] in
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else {
            close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: port)! }

    deinit { close(descriptor) }
}

/// A port on 127.0.0.1 where connections are refused: bound, so nothing else takes it (not
/// another test's listener, not a connection's own source port), and never listening.
final class RefusingPort: BoundLoopbackSocket, @unchecked Sendable {}

/// A port on 127.0.0.1 where connection attempts are never answered: a listener whose queue
/// (one place) is taken by a connection nobody accepts, so the kernel drops every later SYN.
final class SilentPort: BoundLoopbackSocket, @unchecked Sendable {
    private let queued: Int32

    override init() throws {
        queued = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try super.init()
        guard listen(descriptor, 0) == 0 else { throw POSIXError(.EADDRINUSE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { [queued] in
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(queued, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw POSIXError(.ECONNREFUSED) }
    }

    /// Whether some socket is in SYN_SENT towards this port (from `/proc/net/tcp`).
    func hasConnectionAttempt() -> Bool {
        let remote = String(format: "0100007F:%04X", port)
        // Read to its end: Foundation's `String(contentsOfFile:)` stops after the first read.
        guard let table = try? FileSystem.readText("/proc/net/tcp") else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2] == remote && fields[3] == "02"
        }
    }

    deinit { close(queued) }
}
