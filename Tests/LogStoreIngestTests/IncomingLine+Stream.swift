import LogStore

/// The parts of a parsed line's stream by name, as the assertions read them.
extension IncomingLine {
    var index: String { stream.index }
    var workflow: String { stream.workflow }
    var job: String { stream.job }
}
