import Crypto
import Dispatch
import Foundation
import LoopbackSupport
import SwarmCore
import SwarmProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Plain sockets on 127.0.0.1, and the loopback baselines: one sender (`sendfile`) and one
/// receiver that reads and discards (raw) or hashes and writes (verified), nothing else, with the
/// receive buffer a client's chunk connections use.
enum Loopback {
    /// Binds `descriptor` to a free port on 127.0.0.1; returns the port.
    static func bindAnyPort(_ descriptor: Int32) -> Int {
        var address = LoopbackSocket.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length); return getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A byte range of a file.
    struct Part: Sendable {
        let offset: Int
        let count: Int
    }

    /// Where a raw copy runs: a listening socket, and how the sender connects to it.
    struct Link: Sendable {
        let open: @Sendable () throws -> (listener: Int32, dial: @Sendable () -> Int32)

        /// Over loopback, the receiver with the buffer a client's chunk connections get (the
        /// baselines must not do without what makes Swarm faster: verified copy on this machine
        /// 0.83-1.36 GiB/s with auto-tuning, 1.47-1.51 with it).
        static let loopback = Link {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if var size = ChunkFetcher.receiveBuffer.map(Int32.init) {
                setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            let port = bindAnyPort(listener)
            listen(listener, 1)
            return (listener, { LoopbackSocket.connected(port: port) ?? -1 })
        }
    }

    /// Seconds to send `file` whole over one TCP connection on `link` with `sendfile`, the
    /// receiver reading and discarding: the raw rate of the link.
    static func copy(file: URL, over link: Link = .loopback) throws -> Double {
        let whole = Part(offset: 0, count: try size(of: file))
        return try Timing.seconds {
            try transfer(file, whole, over: link) { connection in
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                var received = 0
                while true {
                    let count = read(connection, &buffer, buffer.count)
                    guard count > 0 else { return received }
                    received += count
                }
            }
        }
    }

    /// Copies `file` into `destination` doing the least a verifying client must, timed, with the
    /// CPU time the bench process used meanwhile (its sending and receiving threads): the
    /// file split into `streams` parts, each sent over its own connection as ``copy(file:)``
    /// sends, and received by a thread that hashes every read with SHA-1 while a second thread
    /// writes it to the file (four 1 MiB buffers per stream). With one stream per core, this is
    /// about as fast as a verified transfer can go on the machine, with no protocol at all.
    static func verifiedCopy(file: URL, to destination: URL, streams: Int) throws -> Measured {
        let size = try size(of: file)
        let share = size / streams
        let parts = (0..<streams).map { Part(offset: $0 * share, count: $0 == streams - 1 ? size - $0 * share : share) }
        let expected = try parts.map { try digest(of: file, $0) }
        let output = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw BenchError("cannot create \(destination.path): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        let outcomes = Mutex<[Result<SHA1Digest, any Error>?]>(Array(repeating: nil, count: streams))
        let cpuBefore = rusage.ofThisProcess.cpuTime
        let seconds = Timing.seconds {
            let done = DispatchGroup()
            for (position, part) in parts.enumerated() {
                done.enter()
                Thread {
                    let outcome = Result { try receiveVerified(file, part, into: output) }
                    outcomes.withLock { $0[position] = outcome }
                    done.leave()
                }.start()
            }
            done.wait()
        }
        let cpuSeconds = (rusage.ofThisProcess.cpuTime - cpuBefore).seconds
        for (outcome, digest) in zip(outcomes.withLock { $0 }, expected) {
            guard try outcome?.get() == digest else { throw BenchError("the verified copy's SHA-1 differs from the file's") }
        }
        return Measured(seconds: seconds, cpuSeconds: cpuSeconds)
    }

    /// Receives `part` of `file` hashing each read and writing it at its place in `output`
    /// from a second thread; returns the part's SHA-1.
    private static func receiveVerified(_ file: URL, _ part: Part, into output: Int32) throws -> SHA1Digest {
        let ring = BufferRing(count: 4, size: 1 << 20)
        var hasher = Insecure.SHA1()
        try transfer(file, part) { connection in
            let writer = Thread { ring.drain(into: output, at: part.offset) }
            writer.start()
            var received = 0
            while true {
                let slot = ring.take()
                let count = read(connection, slot.base, slot.capacity)
                ring.fill(slot, count: max(count, 0))
                guard count > 0 else { break }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(start: slot.base, count: count))
                received += count
            }
            ring.waitUntilDrained()
            return received
        }
        if let failure = ring.writeFailure { throw BenchError("verified copy: cannot write: \(failure)") }
        return SHA1Digest(bytes: hasher.finalize())
    }

    /// Sends `part` of `file` with `sendfile` from a thread over a new connection on `link` to
    /// `receive`, which reads the connection to its end and returns how many bytes came.
    private static func transfer(_ file: URL, _ part: Part, over link: Link = .loopback, receive: (Int32) throws -> Int) throws {
        let (listener, dial) = try link.open()
        defer { close(listener) }
        let path = file.path
        Thread {
            let out = dial()
            let input = open(path, O_RDONLY)
            var offset = off_t(part.offset)
            let end = part.offset + part.count
            while offset < end { if sendfile(out, input, &offset, end - Int(offset)) <= 0 { break } }
            close(input)
            close(out)
        }.start()
        let connection = accept(listener, nil, nil)
        defer { close(connection) }
        let received = try receive(connection)
        guard received == part.count else { throw BenchError("raw copy received \(received) of \(part.count) bytes") }
    }

    private static func size(of file: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
    }

    /// The SHA-1 of `part` of `file`, read before timing.
    private static func digest(of file: URL, _ part: Part) throws -> SHA1Digest {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(part.offset))
        var hasher = Insecure.SHA1()
        var left = part.count
        while left > 0, let block = try handle.read(upToCount: min(left, 1 << 20)), !block.isEmpty {
            hasher.update(data: block)
            left -= block.count
        }
        return SHA1Digest(bytes: hasher.finalize())
    }

    /// Round trips of `WHERE_CHUNK,1` on `connections` persistent connections to `port` for
    /// `seconds`, each connection asking again as soon as it is answered; the latencies in ms.
    /// One thread drives them all with `poll(2)`, as load generators such as wrk do, so the
    /// figure is the server's and not the cost of switching between many blocked threads.
    /// With `chunks` above 1, each question names a chunk from 1 to `chunks` at random (65,536
    /// questions made beforehand, asked in turn).
    static func roundTrips(port: Int, connections: Int, seconds: Int, chunks: Int = 1) throws -> [Double] {
        var links = (0..<connections).map { _ in pollfd(fd: LoopbackSocket.connected(port: port) ?? -1, events: Int16(POLLIN), revents: 0) }
        defer { for link in links where link.fd >= 0 { close(link.fd) } }
        guard links.allSatisfy({ $0.fd >= 0 }) else { throw BenchError("cannot open \(connections) connections to port \(port)") }
        var generator = SplitMix64(seed: 7)
        let questions = (0..<(chunks > 1 ? 65_536 : 1)).map { _ in Array("WHERE_CHUNK,\(1 + Int(generator.next() % UInt64(chunks)))\n".utf8) }
        var next = 0
        func nextQuestion() -> [UInt8] {
            next = (next + 1) % questions.count
            return questions[next]
        }
        var asked = [ContinuousClock.Instant](repeating: .now, count: connections)
        var latencies: [Double] = []
        latencies.reserveCapacity(2_000_000)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for (position, link) in links.enumerated() {
            asked[position] = .now
            let question = nextQuestion()
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
                let question = nextQuestion()
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

/// Fixed buffers passed from a receiving thread, which fills them, to a writing thread, which
/// writes them to a file in the order filled. An empty buffer ends the stream.
private final class BufferRing: @unchecked Sendable {
    // Unchecked: each buffer belongs to one thread at a time, handed over by the semaphores.
    /// One buffer and its place in the ring.
    struct Slot {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        let position: Int
    }

    private let slots: [Slot]
    private let counts: Mutex<[Int]>
    private let free: DispatchSemaphore
    private let filled = DispatchSemaphore(value: 0)
    private let drained = DispatchSemaphore(value: 0)
    private var nextTaken = 0
    private let failure = Mutex<String?>(nil)

    init(count: Int, size: Int) {
        slots = (0..<count).map { Slot(base: .allocate(byteCount: size, alignment: 4096), capacity: size, position: $0) }
        counts = Mutex([Int](repeating: 0, count: count))
        // Started at 0 and raised: libdispatch refuses to free a semaphore below its initial value.
        free = DispatchSemaphore(value: 0)
        for _ in 0..<count { free.signal() }
    }

    deinit { for slot in slots { slot.base.deallocate() } }

    /// What went wrong writing, if anything.
    var writeFailure: String? { failure.withLock { $0 } }

    /// The next buffer to fill, once the writer is done with it (receiving thread).
    func take() -> Slot {
        free.wait()
        defer { nextTaken = (nextTaken + 1) % slots.count }
        return slots[nextTaken]
    }

    /// Hands a taken buffer holding `count` bytes to the writer; 0 ends the stream.
    func fill(_ slot: Slot, count: Int) {
        counts.withLock { $0[slot.position] = count }
        filled.signal()
    }

    /// Writes buffers to `descriptor` from `offset` on as they are filled, until the empty one
    /// (writing thread).
    func drain(into descriptor: Int32, at offset: Int) {
        var position = 0
        var fileOffset = offset
        while true {
            filled.wait()
            let count = counts.withLock { $0[position] }
            guard count > 0 else { break }
            var done = 0
            while done < count {
                let written = pwrite(descriptor, slots[position].base + done, count - done, off_t(fileOffset + done))
                guard written > 0 else {
                    failure.withLock { $0 = String(cString: strerror(errno)) }
                    break
                }
                done += written
            }
            fileOffset += count
            free.signal()
            position = (position + 1) % slots.count
        }
        drained.signal()
    }

    /// Returns once the writer has written every buffer before the empty one.
    func waitUntilDrained() { drained.wait() }
}
