import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One client per chunk folder: an exclusive `flock` on the folder itself, held while the
/// client runs and dropped by the system when it exits, however it exits. Nothing is written
/// into the folder for it.
///
/// Two clients on one folder would undo each other's work: each rewrites `local_chunks.txt`
/// with only the chunks it fetched, and one starting removes the other's downloads under way as
/// leftovers. The second is refused instead, naming the first's process where the system says.
/// Where the file system has no locks (some network file systems), clients run unlocked, as
/// the seed's always did.
public final class FolderLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Locks `folder`, or throws ``ChunkFolderError/inUse(path:by:)`` if another client holds it;
    /// `nil` where the folder cannot be locked at all.
    public static func acquire(_ folder: String) throws(ChunkFolderError) -> FolderLock? {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = failure == EWOULDBLOCK ? holderProcess(of: descriptor) : nil
            close(descriptor)
            if failure == EWOULDBLOCK { throw .inUse(path: folder, by: holder) }
            return nil
        }
        return FolderLock(descriptor: descriptor)
    }

    deinit { close(descriptor) }

    /// The process holding the `flock` on the file open as `descriptor`, from `/proc/locks`
    /// (Linux; `nil` elsewhere or if it is not listed). Its lines read
    /// `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF`: the holder, then the file's device
    /// (major:minor, hexadecimal) and inode.
    private static func holderProcess(of descriptor: Int32) -> Int32? {
        var status = stat()
        guard fstat(descriptor, &status) == 0, let table = try? FileSystem.readText("/proc/locks") else { return nil }
        let device = UInt64(status.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        func twoDigitHex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return digits.count < 2 ? "0" + digits : digits
        }
        let file = "\(twoDigitHex(major)):\(twoDigitHex(minor)):\(status.st_ino)"
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[1] == "FLOCK", fields[5] == file else { continue }
            return Int32(fields[4])
        }
        return nil
    }
}
