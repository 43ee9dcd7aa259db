import Synchronization

/// What a tracker has been asked since it last reported, for its periodic console summary.
public final class TrackerActivity: Sendable {
    private let questions = Atomic<Int>(0)
    private let registrations = Atomic<Int>(0)

    public init() {}

    /// Counts one `WHERE_CHUNK`.
    func countQuestion() { questions.wrappingAdd(1, ordering: .relaxed) }

    /// Counts one `LOCAL_CHUNKS`.
    func countRegistration() { registrations.wrappingAdd(1, ordering: .relaxed) }

    /// The questions and registrations counted since the last call.
    public func takeCounts() -> (questions: Int, registrations: Int) {
        (questions.exchange(0, ordering: .relaxed), registrations.exchange(0, ordering: .relaxed))
    }
}
