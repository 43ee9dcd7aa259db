import Synchronization

/// What a tracker has been asked since it last reported, for its periodic console summary, and
/// into its metrics when it keeps them.
public final class TrackerActivity: Sendable {
    private let questions = Atomic<Int>(0)
    private let registrations = Atomic<Int>(0)
    private let metrics: TrackerMetrics?

    public init(metrics: TrackerMetrics? = nil) {
        self.metrics = metrics
    }

    /// Counts one `WHERE_CHUNK`, answered `duration` after it was read.
    func countQuestion(answeredAfter duration: @autoclosure () -> Duration) {
        questions.wrappingAdd(1, ordering: .relaxed)
        metrics?.answered(.classic, "where_chunk", after: duration())
    }

    /// Counts one `LOCAL_CHUNKS`.
    func countRegistration() {
        registrations.wrappingAdd(1, ordering: .relaxed)
        metrics?.answered(.classic, "local_chunks")
    }

    /// Counts a connection closed for what it sent, `kind` naming the problem.
    func countRefusal(_ kind: String) {
        metrics?.refused(.classic, kind)
    }

    /// The questions and registrations counted since the last call.
    public func takeCounts() -> (questions: Int, registrations: Int) {
        (questions.exchange(0, ordering: .relaxed), registrations.exchange(0, ordering: .relaxed))
    }
}
