import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ports on 127.0.0.1 to hand to another process, which binds them itself (the tests and the
/// benchmark start trackers and clients this way).
///
/// A port from the kernel's ephemeral range (what binding port 0 gives) can be taken as the
/// source port of any outgoing connection in the moment before the other process binds it, and
/// a swarm opens connections by the hundred: so these come from below that range, each checked
/// free and never handed out twice by one process.
public enum LoopbackPort {
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port nothing listens on now, below the ephemeral range.
    public static func unused() -> Int {
        let range = 10_000..<max(10_001, ephemeralRangeStart())
        while true {
            let port = Int.random(in: range)
            guard handedOut.withLock({ $0.insert(port).inserted }), isFree(port) else { continue }
            return port
        }
    }

    /// The first port of the kernel's ephemeral range (32768 when it cannot be read).
    static func ephemeralRangeStart() -> Int {
        let descriptor = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return 32_768 }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &bytes, bytes.count)
        let digits = bytes.prefix(max(count, 0)).prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return Int(String(decoding: digits, as: UTF8.self)) ?? 32_768
    }

    /// Whether a listening socket could bind `port` on 127.0.0.1 now.
    static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = LoopbackSocket.address(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
