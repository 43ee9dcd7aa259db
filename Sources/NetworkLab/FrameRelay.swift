import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A switch in user space between TAP devices: it learns which port each Ethernet address is
/// behind, floods broadcasts and unknown addresses, holds every frame for `delay` and drops a
/// `loss` share of them. It stands in for `tc netem`, which the kernels here lack: a frame
/// crosses one relay hop from host to host, so each direction gets `delay` and `loss` once, as
/// with netem on each host's interface.
final class FrameRelay: @unchecked Sendable {
    private struct Pending {
        let due: UInt64
        let port: Int
        let frame: [UInt8]
    }

    private let ports: [Int32]
    private let delay: UInt64
    private let loss: Double
    /// The `virtio_net_hdr` before each frame (TAP devices with offloads), or 0.
    private let headerLength: Int
    private let wake: (read: Int32, write: Int32)
    private let finished = DispatchSemaphore(value: 0)
    private var random: UInt64
    /// The port behind each Ethernet address seen as a source (the address in a `UInt64`).
    private var whereIs: [UInt64: Int] = [:]
    private var pending: [Pending] = []
    private var head = 0
    /// Frames received, and of them dropped.
    let received = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)

    /// Starts relaying between `ports` (TAP descriptors, non-blocking; closed by ``stop()``), on
    /// a thread of its own; `seed` makes the dropped frames the same from run to run.
    init(ports: [Int32], delay: Duration, loss: Double, headerLength: Int = 0, seed: UInt64 = 0x5EED) throws {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw NetworkLabError.system("pipe", errno) }
        self.ports = ports
        let (seconds, attoseconds) = delay.components
        self.delay = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.loss = loss
        self.headerLength = headerLength
        self.wake = (pipeEnds[0], pipeEnds[1])
        self.random = seed | 1
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "frame relay"
        thread.start()
    }

    /// Stops the thread, then closes the ports (their TAP devices disappear with them).
    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        for port in ports { close(port) }
        close(wake.read)
        close(wake.write)
    }

    private func run() {
        var watched = ports.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        watched.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
        var buffer = [UInt8](repeating: 0, count: 65_536 + 1024)
        while true {
            let now = Self.now()
            deliver(until: now)
            let timeout = head < pending.count ? Int32((pending[head].due - min(pending[head].due, now) + 999_999) / 1_000_000) : -1
            guard poll(&watched, nfds_t(watched.count), timeout) >= 0 || errno == EINTR else { return }
            if watched.last!.revents != 0 { return }
            for port in ports.indices where watched[port].revents != 0 {
                // A bounded burst per port, so one busy host cannot starve the others.
                for _ in 0..<64 {
                    let count = read(ports[port], &buffer, buffer.count)
                    guard count >= headerLength + 14 else { break }
                    receive(Array(buffer[..<count]), from: port, at: Self.now())
                }
            }
        }
    }

    private func receive(_ frame: [UInt8], from port: Int, at now: UInt64) {
        whereIs[Self.address(in: frame, at: headerLength + 6)] = port
        received.add(1, ordering: .relaxed)
        guard !drops() else {
            dropped.add(1, ordering: .relaxed)
            return
        }
        let due = now + delay
        // The group bit: broadcast and multicast go everywhere.
        if frame[headerLength] & 1 == 0, let known = whereIs[Self.address(in: frame, at: headerLength)] {
            if known != port { pending.append(Pending(due: due, port: known, frame: frame)) }
            return
        }
        for other in ports.indices where other != port {
            pending.append(Pending(due: due, port: other, frame: frame))
        }
    }

    /// Writes every frame that is due; every frame waits the same time, so they are due in order.
    private func deliver(until now: UInt64) {
        while head < pending.count, pending[head].due <= now {
            let item = pending[head]
            // A full device queue drops the frame, as a full link would.
            _ = item.frame.withUnsafeBytes { write(ports[item.port], $0.baseAddress, $0.count) }
            head += 1
        }
        if head > 4096, head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
    }

    /// Whether the next frame is lost (xorshift64).
    private func drops() -> Bool {
        guard loss > 0 else { return false }
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return Double(random >> 11) / Double(1 << 53) < loss
    }

    private static func address(in frame: [UInt8], at offset: Int) -> UInt64 {
        frame[offset..<offset + 6].reduce(0) { $0 << 8 | UInt64($1) }
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
