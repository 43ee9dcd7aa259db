import Foundation
import Synchronization

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

    /// Round trips of `WHERE_CHUNK,1` on `connections` persistent connections to `port` for
    /// `seconds`, each connection asking again as soon as it is answered; the latencies in ms.
    /// One thread drives them all with `poll(2)`, as load generators such as wrk do, so the
    /// figure is the server's and not the cost of switching between many blocked threads.
    static func roundTrips(port: Int, connections: Int, seconds: Int) throws -> [Double] {
        var links = (0..<connections).map { _ in pollfd(fd: connected(port: port), events: Int16(POLLIN), revents: 0) }
        defer { for link in links where link.fd >= 0 { close(link.fd) } }
        guard links.allSatisfy({ $0.fd >= 0 }) else { throw BenchError("cannot open \(connections) connections to port \(port)") }
        let question = Array("WHERE_CHUNK,1\n".utf8)
        var asked = [ContinuousClock.Instant](repeating: .now, count: connections)
        var latencies: [Double] = []
        latencies.reserveCapacity(2_000_000)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for (position, link) in links.enumerated() {
            asked[position] = .now
            guard write(link.fd, question, question.count) == question.count else { throw BenchError("port \(port) closed a connection") }
        }
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            guard poll(&links, nfds_t(links.count), 100) >= 0 || errno == EINTR else { throw BenchError("poll: \(String(cString: strerror(errno)))") }
            for position in links.indices where links[position].revents != 0 {
                let count = read(links[position].fd, &buffer, buffer.count)
                guard count > 0 else { throw BenchError("port \(port) closed a connection") }
                // One question is outstanding per connection, so a newline ends its one answer.
                guard buffer[0..<count].contains(UInt8(ascii: "\n")) else { continue }
                let now = ContinuousClock.now
                latencies.append((now - asked[position]).milliseconds)
                asked[position] = now
                guard write(links[position].fd, question, question.count) == question.count else { throw BenchError("port \(port) closed a connection") }
            }
        }
        return latencies
    }

    /// The least a server can do per question: one thread polling every connection and writing
    /// a fixed `answer` for each line read.
    final class Responder: Sendable {
        /// The port it listens on.
        let port: Int
        private let listener: Int32
        private let stopping = Atomic<Bool>(false)

        init(answer: String) {
            listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            port = bindAnyPort(listener)
            listen(listener, 256)
            let listener = self.listener
            let reply = Array(answer.utf8)
            Thread { [self] in
                var links = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !self.stopping.load(ordering: .relaxed) {
                    guard poll(&links, nfds_t(links.count), 100) > 0 else { continue }
                    if links[0].revents != 0 { links.append(pollfd(fd: accept(listener, nil, nil), events: Int16(POLLIN), revents: 0)) }
                    for position in links.indices.dropFirst() where links[position].revents != 0 && links[position].fd >= 0 {
                        let count = read(links[position].fd, &buffer, buffer.count)
                        guard count > 0 else {
                            close(links[position].fd)
                            links[position].fd = -1
                            continue
                        }
                        for _ in 0..<buffer[0..<count].count(where: { $0 == UInt8(ascii: "\n") }) { _ = write(links[position].fd, reply, reply.count) }
                    }
                }
                for link in links where link.fd >= 0 { close(link.fd) }  // the listener included
            }.start()
        }

        /// Stops serving and closes every connection.
        func stop() { stopping.store(true, ordering: .relaxed) }
    }
}
