import Foundation

/// Which streams to read: every given part must match. A job is found by its name alone when
/// no workflow is given, and a job stream without a workflow id (REANA's job documents) matches
/// any workflow asked together with its job.
public struct StreamSelector: Sendable, Equatable {
    public var index: String?
    public var workflow: String?
    public var job: String?

    public init(index: String? = nil, workflow: String? = nil, job: String? = nil) {
        self.index = index
        self.workflow = workflow
        self.job = job
    }

    /// True when a stream with `key` belongs to this selection (the rule of `streams(matching:)`).
    public func selects(_ key: StreamKey) -> Bool { matches(key) }

    func matches(_ key: StreamKey) -> Bool {
        if let index, key.index != index { return false }
        if let job {
            guard key.job == job else { return false }
            if let workflow, !key.workflow.isEmpty, key.workflow != workflow { return false }
            return true
        }
        if let workflow, key.workflow != workflow { return false }
        return true
    }
}
