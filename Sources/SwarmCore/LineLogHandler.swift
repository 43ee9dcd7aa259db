import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each log entry as one line to a batched ``LogFile``.
///
/// Two formats: the seed's `logger.log` lines, `<name>,<message>`, where the name is the process's
/// (`client1`, `P2PTracker`) so several processes can share one file and a reader still tells them
/// apart (`client1,WHERE_CHUNK,3`); and console lines for a terminal,
/// `2026-11-29T21:30:35Z info P2PTracker: <message>`.
public struct LineLogHandler: LogHandler {
    /// How a line is laid out.
    public enum Format: Sendable {
        /// `<name>,<message>`, as the seed's `logger.log`.
        case seed
        /// `<UTC time> <level> <name>: <message>`.
        case console
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    private let name: String
    /// `<name>,`, made once.
    private let seedPrefix: String
    private let file: LogFile
    private let format: Format

    /// A handler appending `name,message` lines to `file` (the seed's `logger.log` format).
    public static func seed(name: String, file: LogFile) -> LineLogHandler {
        LineLogHandler(name: name, file: file, format: .seed)
    }

    /// A handler writing timestamped lines at `level` and above to standard error.
    public static func console(name: String, level: Logger.Level = .info) -> LineLogHandler {
        var handler = LineLogHandler(name: name, file: .standardError, format: .console)
        handler.logLevel = level
        return handler
    }

    private init(name: String, file: LogFile, format: Format) {
        self.name = name
        self.seedPrefix = name + ","
        self.file = file
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(event.message.description, level: event.level)
    }

    /// Writes `message` as a line at `level`, without the logging front end (the caller has
    /// decided it is to be logged): the way for lines written thousands of times a second.
    public func write(_ message: String, level: Logger.Level) {
        switch format {
        case .seed: file.append(line: message, after: seedPrefix)
        case .console: file.append(line: "\(ConsoleClock.now()) \(level) \(name): \(message)")
        }
    }
}

/// The current UTC second as text, formatted once per second however many lines are logged.
private enum ConsoleClock {
    private static let last = Mutex<(second: time_t, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        return last.withLock { last in
            if last.second != second {
                var parts = tm()
                var copy = second
                gmtime_r(&copy, &parts)
                var buffer = [CChar](repeating: 0, count: 32)
                let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
                last = (second, String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return last.text
        }
    }
}
