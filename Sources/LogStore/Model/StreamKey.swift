/// One log file's worth of lines: the index it was sent to, its workflow and its job.
///
/// Empty strings mean "not given" (REANA's job documents carry no workflow id today).
public struct StreamKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var index: String
    public var workflow: String
    public var job: String

    public init(index: String, workflow: String, job: String) {
        self.index = index
        self.workflow = workflow
        self.job = job
    }

    public static func < (a: StreamKey, b: StreamKey) -> Bool {
        (a.index, a.workflow, a.job) < (b.index, b.workflow, b.job)
    }

    public var description: String { "\(index)/\(workflow.isEmpty ? "-" : workflow)/\(job.isEmpty ? "-" : job)" }
}
