#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking TCP sockets on 127.0.0.1, as the tests and `swarm-bench` use them to talk to the
/// trackers and peers they start. Call these from threads of their own, never from a pool
/// shared with other work.
public enum LoopbackSocket {
    /// 127.0.0.1:`port` (0: any free port).
    public static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// A connection to 127.0.0.1:`port`, whose reads give up after `readTimeout` when one is
    /// set; `nil` when refused. The caller closes it.
    public static func connected(port: Int, readTimeout: Duration? = nil) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        if let readTimeout {
            let (seconds, attoseconds) = readTimeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = address(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Writes `message` as it is on `descriptor`, then reads until a `\n` or the end of the
    /// stream: what was read, `\n` included if it came ("" when the other end closed at once);
    /// `nil` when the write failed.
    public static func exchange(_ message: String, on descriptor: Int32) -> String? {
        let bytes = Array(message.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { return nil }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.last != UInt8(ascii: "\n") {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// ``exchange(_:on:)`` over a new connection to 127.0.0.1:`port`; `nil` when refused.
    public static func ask(port: Int, _ message: String, readTimeout: Duration? = nil) -> String? {
        guard let descriptor = connected(port: port, readTimeout: readTimeout) else { return nil }
        defer { close(descriptor) }
        return exchange(message, on: descriptor)
    }

    /// The body of `GET path` from 127.0.0.1:`port` (`Connection: close`, read to the end);
    /// `nil` when refused or when no whole answer came within ten seconds.
    public static func httpGet(port: Int, _ path: String) -> [UInt8]? {
        guard let descriptor = connected(port: port, readTimeout: .seconds(10)) else { return nil }
        defer { close(descriptor) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard write(descriptor, request, request.count) == request.count else { return nil }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            answer += buffer[0..<count]
        }
        guard let end = answer.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        return Array(answer[end.upperBound...])
    }
}
