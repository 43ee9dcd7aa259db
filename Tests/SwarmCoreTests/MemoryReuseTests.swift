#if canImport(Glibc)
import Glibc
import Testing

@testable import SwarmCore

@Suite struct MemoryReuseTests {
    /// Eight 1 MiB buffers filled and freed, again and again, as a client's chunk connections
    /// do with their receive buffers: once the process keeps freed memory, the later rounds
    /// reuse the pages the first one faulted in. (By default glibc trims the freed 8 MiB off
    /// its heap after every round, and each round faults in all 2,048 pages again.)
    @Test func freedBuffersAreReusedWithoutNewPageFaults() {
        #expect(MemoryReuse.keepFreedMemory())
        let size = 1 << 20
        func round() {
            let buffers = (0..<8).map { _ in malloc(size)! }
            for buffer in buffers { memset(buffer, 1, size) }
            for buffer in buffers { free(buffer) }
        }
        round()
        let before = Self.pageFaultsOfThisThread()
        for _ in 0..<10 { round() }
        let faults = Self.pageFaultsOfThisThread() - before
        // 10 rounds touch 20,480 pages; a tenth of that leaves room for other tests' threads.
        #expect(faults < 2_048, "\(faults) page faults in 10 rounds")
    }

    private static func pageFaultsOfThisThread() -> Int {
        // RUSAGE_THREAD (Linux): glibc declares it only for _GNU_SOURCE, which Swift's Glibc lacks.
        let rusageThread: __rusage_who_t = 1
        var usage = rusage()
        getrusage(rusageThread, &usage)
        return usage.ru_minflt
    }
}
#endif
