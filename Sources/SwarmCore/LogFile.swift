import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only log, shared safely by several processes, written in batches.
///
/// Lines are gathered in memory and written ``flushInterval`` after the first of them came, by a
/// background task (or at once, by another task, when a ``batchLimit`` of bytes is waiting), each
/// batch in a single `write(2)` of whole lines. A tracker answering 100,000 questions a second then
/// makes tens of log writes a second, not 100,000; a log with nothing to write costs no wake-ups.
/// The file is opened with `O_APPEND`, so batches from different processes never interleave
/// mid-line. Every log is flushed at normal exit; a process killed with SIGKILL loses at most the
/// last ``flushInterval`` of lines.
public final class LogFile: Sendable {
    /// The seed's log file name, in the working directory.
    public static let defaultPath = "logger.log"
    /// How long a line may wait in memory.
    public static let flushInterval: Duration = .milliseconds(20)
    /// Bytes waiting that start a write at once, on a task of its own (never on the caller's
    /// thread, which may be an event loop).
    static let batchLimit = 64 * 1024
    /// Bytes waiting that make the caller itself wait for the disk: the log is being written
    /// faster than the disk takes it, and memory must stay bounded.
    static let backlogLimit = 8 * 1024 * 1024

    /// Standard output, so a pipe sees each line within ``flushInterval``.
    public static let standardOutput = LogFile(descriptor: STDOUT_FILENO)
    /// Standard error.
    public static let standardError = LogFile(descriptor: STDERR_FILENO)

    private let descriptor: Int32
    private let pending = Mutex<[UInt8]>([])
    /// Held while a batch is taken and written, so batches reach the file in order.
    private let writing = Mutex<Void>(())
    /// Whether a write of a full batch is already on its way.
    private let batchWriteScheduled = Atomic<Bool>(false)
    /// Whether a write ``flushInterval`` from now is already scheduled.
    private let timedWriteScheduled = Atomic<Bool>(false)

    /// Opens (creating if needed) the file at `path` for appending. It stays open until exit.
    public convenience init(path: String = LogFile.defaultPath) throws(LogFileError) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        self.init(descriptor: descriptor)
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
        LogWriter.shared.add(self)
    }

    /// Queues `line` plus a newline.
    public func append(line: String) {
        append(line: line, after: "")
    }

    /// Queues `prefix`, `line` and a newline, without joining them into one string first.
    public func append(line: String, after prefix: String) {
        let waiting = pending.withLock { bytes in
            bytes.append(contentsOf: prefix.utf8)
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
            return bytes.count
        }
        if waiting >= Self.backlogLimit {
            flush()
        } else if waiting >= Self.batchLimit, !batchWriteScheduled.exchange(true, ordering: .acquiringAndReleasing) {
            Task.detached(priority: .utility) {
                self.batchWriteScheduled.store(false, ordering: .releasing)
                self.flush()
            }
        } else if !timedWriteScheduled.exchange(true, ordering: .acquiringAndReleasing) {
            Task.detached(priority: .utility) {
                try? await Task.sleep(for: Self.flushInterval)
                // Cleared before writing: a line appended from here on schedules the next write.
                self.timedWriteScheduled.store(false, ordering: .releasing)
                self.flush()
            }
        }
    }

    /// Writes every queued line now.
    public func flush() {
        writing.withLock { _ in
            let batch = pending.withLock { bytes in
                defer { bytes.removeAll(keepingCapacity: true) }
                return bytes
            }
            guard !batch.isEmpty else { return }
            // A log that cannot be written loses the batch: logging never stops the process.
            batch.withUnsafeBytes { raw in _ = try? FileSystem.writeAll(descriptor, raw, path: "log") }
        }
    }
}

/// Flushes every ``LogFile`` at exit.
private final class LogWriter: Sendable {
    static let shared = LogWriter()

    private let files = Mutex<[LogFile]>([])

    private init() {
        atexit { LogWriter.shared.flushAll() }
    }

    func add(_ file: LogFile) { files.withLock { $0.append(file) } }

    func flushAll() {
        for file in files.withLock({ $0 }) { file.flush() }
    }
}

/// The log file could not be opened.
public struct LogFileError: Error, CustomStringConvertible {
    /// The file's path.
    public let path: String
    /// What the system said.
    public let reason: String

    public var description: String { "\(path): cannot open log file: \(reason)" }
}
