#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only log file shared safely by several processes.
///
/// The file is opened with `O_APPEND` and every line goes out in a single `write(2)`, so lines
/// from different processes never interleave, as long as each is shorter than a page.
public final class LogFile: Sendable {
    /// The seed's log file name, in the working directory.
    public static let defaultPath = "logger.log"

    /// Standard output, unbuffered, so a pipe sees every line as it happens.
    public static let standardOutput = LogFile(descriptor: STDOUT_FILENO, owned: false)

    private let descriptor: Int32
    private let owned: Bool

    /// Opens (creating if needed) the file at `path` for appending.
    public convenience init(path: String = LogFile.defaultPath) throws(LogFileError) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        self.init(descriptor: descriptor, owned: true)
    }

    private init(descriptor: Int32, owned: Bool) {
        self.descriptor = descriptor
        self.owned = owned
    }

    deinit { if owned { close(descriptor) } }

    /// Appends `line` plus a newline, as one write.
    public func append(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
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
