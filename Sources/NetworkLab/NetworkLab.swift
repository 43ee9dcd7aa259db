import CNetworkLab
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a lab could not be made or used.
public enum NetworkLabError: Error, CustomStringConvertible {
    /// A command failed; its words.
    case command([String], String)
    /// A system call failed.
    case system(String, Int32)

    public var description: String {
        switch self {
        case .command(let arguments, let output): return "`\(arguments.joined(separator: " "))` failed: \(output)"
        case .system(let call, let code): return "\(call): \(String(cString: strerror(code)))"
        }
    }
}

/// Hosts of our own on one machine, for testing what crosses a network: each host a network
/// namespace with one interface, `eth0`, holding `198.18.0.N/24` (the benchmarking range) and
/// `2001:db8::N/64` (the documentation prefix), N = 2, 3, …; nothing is connected to the
/// machine's own network.
///
/// The hosts are joined either by veth pairs on a bridge (in a namespace of its own) or, to add
/// latency and loss, by a ``FrameRelay`` between TAP devices. Programs run on a host through
/// ``Host/command(_:_:)`` (`ip netns exec`).
///
/// ``shutdown()`` kills every process left on the hosts and removes every namespace. A watchdog
/// process does the same if the owner dies first (a crash, SIGKILL, an interrupted
/// `swift test`), and each new lab removes what dead owners left.
///
/// ```swift
/// let lab = try NetworkLab(hosts: 2, links: .relay(delay: .milliseconds(20), loss: 0.01))
/// defer { lab.shutdown() }
/// let (program, arguments) = lab.hosts[0].command("/usr/bin/python3", ["-m", "http.server"])
/// ```
public final class NetworkLab: @unchecked Sendable {
    /// How the hosts are joined.
    public enum Links: Sendable {
        /// veth pairs on a Linux bridge: the kernel's speed.
        case bridge
        /// TAP devices and a switch in this process that holds each frame `delay` and drops
        /// `loss` (0…1) of them. Without loss, TCP segments cross it whole (up to 64 KiB, as
        /// between virtual machines); with loss, as 1,500-byte frames.
        case relay(delay: Duration, loss: Double)
    }

    /// One host.
    public struct Host: Sendable {
        /// Its network namespace.
        public let namespace: String
        /// Its IPv4 address, unless the lab is IPv6 only.
        public let ipv4: String?
        /// Its IPv6 address.
        public let ipv6: String

        /// `port` on this host as our flags and logs write it: `198.18.0.2:5100`, or
        /// `[2001:db8::2]:5100` when the lab is IPv6 only.
        public func address(port: Int) -> String {
            ipv4.map { "\($0):\(port)" } ?? "[\(ipv6)]:\(port)"
        }

        /// The program and arguments that run `program arguments` on this host.
        public func command(_ program: String, _ arguments: [String]) -> (program: String, arguments: [String]) {
            (NetworkLab.ip, ["netns", "exec", namespace, program] + arguments)
        }

        /// A TCP socket of this process on this host, listening on the host's address (IPv4
        /// where it has one) at a free port; the caller closes it.
        public func listener() throws -> (descriptor: Int32, port: Int) {
            let descriptor = try tcpSocket()
            var address = socketAddress(port: 0)
            var length = socklen_t(address.count)
            let bound = address.withUnsafeMutableBytes { raw in
                let pointer = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
                return bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
            guard bound else {
                let error = errno
                close(descriptor)
                throw NetworkLabError.system("listening on \(namespace)", error)
            }
            // The port sits at the same place in sockaddr_in and sockaddr_in6.
            return (descriptor, Int(UInt16(address[2]) << 8 | UInt16(address[3])))
        }

        /// A TCP socket of this process on this host, connected to `port` of `other`; the caller closes it.
        public func connect(to other: Host, port: Int) throws -> Int32 {
            let descriptor = try tcpSocket()
            let address = other.socketAddress(port: port)
            let connected = address.withUnsafeBytes { raw in
                Glibc.connect(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count)) == 0
            }
            guard connected else {
                let error = errno
                close(descriptor)
                throw NetworkLabError.system("connecting from \(namespace) to \(other.namespace)", error)
            }
            return descriptor
        }

        /// A new TCP socket in this host's namespace.
        private func tcpSocket() throws -> Int32 {
            let descriptor = swarm_socket_in("/run/netns/\(namespace)", ipv4 == nil ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue))
            guard descriptor >= 0 else { throw NetworkLabError.system("a socket on \(namespace)", -descriptor) }
            return descriptor
        }

        /// The bytes of a `sockaddr_in` (or `sockaddr_in6` when IPv6 only) for `port` of this host.
        private func socketAddress(port: Int) -> [UInt8] {
            if let ipv4 {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                inet_pton(AF_INET, ipv4, &address.sin_addr)
                return withUnsafeBytes(of: address) { Array($0) }
            }
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, ipv6, &address.sin6_addr)
            return withUnsafeBytes(of: address) { Array($0) }
        }
    }

    /// The hosts, in order: `hosts[0]` is 198.18.0.2 and 2001:db8::2.
    public let hosts: [Host]
    private let namespaces: [String]
    private var relay: FrameRelay?
    private var watchdog: Process?
    private let lock = NSLock()
    private var isShutDown = false

    /// iproute2's `ip`, where Debian puts it.
    public static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"
    private static let prefix = "swarmlab-"
    private static let serial = Serial()

    /// Why labs cannot be made here (not root, no `ip`, no TUN/TAP, namespaces refused), or
    /// `nil` when they can; found out once per process, by making and removing a namespace.
    public static func unavailability() -> String? { whyUnavailable }

    private static let whyUnavailable: String? = {
        guard geteuid() == 0 else { return "network namespaces need root (this runs as uid \(geteuid()))" }
        guard FileManager.default.isExecutableFile(atPath: ip) else { return "`ip` is missing (Debian's iproute2)" }
        guard FileManager.default.fileExists(atPath: "/dev/net/tun") else { return "/dev/net/tun is missing (the relay's TAP devices)" }
        let probe = "\(prefix)\(getpid())-probe"
        do {
            try run(["netns", "add", probe])
            try run(["netns", "delete", probe])
        } catch {
            return "cannot make a network namespace here: \(error)"
        }
        return nil
    }()

    /// Makes `count` hosts joined by `links`; with `ipv4` false, they have IPv6 addresses only.
    ///
    /// - Throws: ``NetworkLabError`` naming the step that failed; whatever was made is removed.
    public init(hosts count: Int, links: Links = .bridge, ipv4: Bool = true) throws {
        precondition((1...200).contains(count), "a lab has 1 to 200 hosts")
        Self.removeLeftovers()
        let base = "\(Self.prefix)\(getpid())-\(Self.serial.next())"
        hosts = (0..<count).map { index in
            Host(namespace: "\(base)-h\(index + 2)", ipv4: ipv4 ? "198.18.0.\(index + 2)" : nil, ipv6: "2001:db8::\(index + 2)")
        }
        let switchNamespace = "\(base)-sw"
        if case .bridge = links {
            namespaces = hosts.map(\.namespace) + [switchNamespace]
        } else {
            namespaces = hosts.map(\.namespace)
        }
        do {
            watchdog = try Self.startWatchdog(for: namespaces)
            for namespace in namespaces { try Self.run(["netns", "add", namespace]) }
            switch links {
            case .bridge:
                try Self.run(["-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
                try Self.run(["-n", switchNamespace, "link", "set", "br0", "up"])
                for (index, host) in hosts.enumerated() {
                    // Made from inside the namespaces: nothing appears in the machine's own.
                    try Self.run(["-n", host.namespace, "link", "add", "eth0", "type", "veth", "peer", "name", "port\(index)", "netns", switchNamespace])
                    try Self.run(["-n", switchNamespace, "link", "set", "port\(index)", "master", "br0", "up"])
                }
            case .relay(let delay, let loss):
                var ports: [Int32] = []
                for host in hosts {
                    // Segments of 64 KiB cross the relay at a fraction of the cost of 1,500-byte
                    // frames; with loss, frames are real ones, so that one lost is one segment.
                    let descriptor = swarm_open_tap("/run/netns/\(host.namespace)", "eth0", loss == 0 ? 1 : 0)
                    guard descriptor >= 0 else {
                        for port in ports { close(port) }
                        throw NetworkLabError.system("opening a TAP device in \(host.namespace)", -descriptor)
                    }
                    ports.append(descriptor)
                }
                relay = try FrameRelay(ports: ports, delay: delay, loss: loss, headerLength: loss == 0 ? 10 : 0)
            }
            for host in hosts {
                try Self.run(["-n", host.namespace, "link", "set", "lo", "up"])
                try Self.run(["-n", host.namespace, "link", "set", "eth0", "up"])
                if let ipv4 = host.ipv4 { try Self.run(["-n", host.namespace, "address", "add", "\(ipv4)/24", "dev", "eth0"]) }
                // nodad: usable at once, without waiting for duplicate address detection.
                try Self.run(["-n", host.namespace, "address", "add", "\(host.ipv6)/64", "dev", "eth0", "nodad"])
            }
        } catch {
            shutdown()
            throw error
        }
    }

    deinit { shutdown() }

    /// With ``Links/relay(delay:loss:)``: the frames the relay has received so far, and how many
    /// of them it dropped.
    public var relayed: (frames: Int, dropped: Int)? {
        relay.map { ($0.received.load(ordering: .relaxed), $0.dropped.load(ordering: .relaxed)) }
    }

    /// Kills every process on the hosts, removes the namespaces and stops the relay; idempotent.
    public func shutdown() {
        let first = lock.withLock { () -> Bool in
            defer { isShutDown = true }
            return !isShutDown
        }
        guard first else { return }
        for namespace in namespaces { Self.remove(namespace) }
        relay?.stop()
        if let watchdog {
            // It ignores SIGTERM (see startWatchdog).
            kill(watchdog.processIdentifier, SIGKILL)
            watchdog.waitUntilExit()
        }
    }

    /// Kills what runs in `namespace`, then deletes it.
    private static func remove(_ namespace: String) {
        let pids = (try? run(["netns", "pids", namespace])) ?? ""
        for pid in pids.split(whereSeparator: \.isNewline).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        _ = try? run(["netns", "delete", namespace])
    }

    /// Removes the namespaces of labs whose owner process is gone.
    private static func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let owner = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), kill(owner, 0) != 0, errno == ESRCH else { continue }
            remove(name)
        }
    }

    /// A shell that waits for this process to end, then removes the lab; killed by ``shutdown()``.
    /// It ignores the terminal's signals, which an interrupted test run sends its whole group.
    private static func startWatchdog(for namespaces: [String]) throws -> Process {
        let script = """
            trap '' INT HUP QUIT TERM
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            for ns in \(namespaces.joined(separator: " ")); do
                for pid in $(\(ip) netns pids $ns 2>/dev/null); do kill -9 $pid; done
                \(ip) netns delete $ns 2>/dev/null
            done
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        return process
    }

    /// Runs `ip arguments`; its output, or an error with its words.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NetworkLabError.command([ip] + arguments, text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return text
    }

    /// Numbers the labs of one process.
    private final class Serial: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0

        func next() -> Int {
            lock.withLock {
                value += 1
                return value
            }
        }
    }
}
