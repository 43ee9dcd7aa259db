#if canImport(Glibc)
import CMalloc
#endif

/// Keeps memory the process frees for its next allocations instead of handing it back to the
/// kernel.
///
/// By default glibc serves blocks of 128 KiB and more with their own mappings and returns freed
/// memory beyond 128 KiB-2 MiB at the top of a heap to the kernel. A client allocates and frees
/// receive buffers of up to 1 MiB for every chunk connection, so each one was mapped afresh: a
/// page fault for every 4 KiB received into it, and a TLB shootdown on every core when it was
/// released. Measured on 2 cores: 5-8% less CPU for the whole 1 → 7 swarm, 7% less for a 1 → 1
/// transfer, 11-13% less for a client fetching 64 tiny chunks; the cost is the high-water mark of
/// the buffers staying resident (about 15 MiB more with eight 16 MiB chunks at once). The
/// tracker's log batches (about 200 KiB per 20 ms under load) were mapped and unmapped the same
/// way, about a thousand times a second at 120,000 answers/s; with this, never.
public enum MemoryReuse {
    /// Blocks up to this size come from the heaps, not from mappings of their own.
    static let mappingThreshold: Int32 = 32 << 20
    /// Free memory a heap keeps before it trims any.
    static let trimThreshold: Int32 = 64 << 20

    /// Applies the settings to this process; whether the allocator took them (`false` where
    /// the C library has no such settings). Call once, early: it affects every thread.
    @discardableResult
    public static func keepFreedMemory() -> Bool {
        #if canImport(Glibc)
        return mallopt(M_MMAP_THRESHOLD, mappingThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1
        #else
        return false
        #endif
    }
}
