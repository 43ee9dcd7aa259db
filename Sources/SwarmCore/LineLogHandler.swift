import Logging

/// Writes log entries to `logger.log` the way the seed does: `<name>,<message>` per line.
///
/// The name is the process's (`client1`, `P2PTracker`), so several processes can share one file
/// and a reader still tells them apart: `client1,WHERE_CHUNK,3`.
public struct SeedLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    private let name: String
    private let file: LogFile

    /// A handler appending `name,message` lines to `file`.
    public init(name: String, file: LogFile) {
        self.name = name
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        file.append(line: "\(name),\(event.message)")
    }
}
