import Logging

/// Where the tracker records every question and answer, one line each, as the seed's log does.
///
/// A busy tracker writes two such lines per question, so the way there matters: by default
/// they go through a `Logger` at info level; a tracker that owns its log lines can hand them
/// straight to its writer instead, skipping the logging front end's work per line.
///
/// ```swift
/// let messages = MessageLog(logger: logger)        // info lines on `logger`
/// let direct = MessageLog { line in file.append(line: line) }
/// ```
public struct MessageLog: Sendable {
    private let record: @Sendable (String) -> Void

    /// Records each line at info level on `logger`.
    public init(logger: Logger) {
        record = { logger.info("\($0)") }
    }

    /// Records each line by calling `record` on the event loop that answered: it must be quick.
    public init(_ record: @escaping @Sendable (String) -> Void) {
        self.record = record
    }

    /// Records one message's text.
    func callAsFunction(_ line: String) {
        record(line)
    }
}
