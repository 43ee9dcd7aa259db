import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Plain sockets on 127.0.0.1, and the raw loopback baseline: one sender (`sendfile`) and one
/// receiver (read and discard), nothing else.
enum Loopback {
    /// Binds `descriptor` to a free port on 127.0.0.1; returns the port.
    static func bindAnyPort(_ descriptor: Int32) -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length); return getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A port on 127.0.0.1 that nothing listens on now.
    static func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        return bindAnyPort(descriptor)
    }

    /// A connected socket to 127.0.0.1:`port` (-1 when refused; reads and writes then fail).
    static func connected(port: Int) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return -1
        }
        return descriptor
    }

    /// Writes `question` on `descriptor` and reads until the answer's `\n`; `nil` if the link broke.
    static func roundTrip(_ question: [UInt8], on descriptor: Int32) -> String? {
        guard write(descriptor, question, question.count) == question.count else { return nil }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.last != UInt8(ascii: "\n") {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { return nil }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// One question to a tracker on 127.0.0.1:`port` over a new connection; `nil` if it is not up.
    static func ask(port: Int, _ message: String) -> String? {
        let descriptor = connected(port: port)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return roundTrip(Array(message.utf8), on: descriptor)
    }

    /// Seconds to send `file` whole over one loopback TCP connection with `sendfile`.
    static func copy(file: URL) throws -> Double {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        let port = bindAnyPort(listener)
        listen(listener, 1)
        let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        let path = file.path
        return try Timing.seconds {
            let sender = Thread {
                let out = connected(port: port)
                let input = open(path, O_RDONLY)
                var offset: off_t = 0
                while offset < size { if sendfile(out, input, &offset, size - Int(offset)) <= 0 { break } }
                close(input)
                close(out)
            }
            sender.start()
            let connection = accept(listener, nil, nil)
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var received = 0
            while true {
                let count = read(connection, &buffer, buffer.count)
                guard count > 0 else { break }
                received += count
            }
            guard received == size else { throw BenchError("raw copy received \(received) of \(size) bytes") }
        }
    }
}
