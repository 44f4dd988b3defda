/// Which way a log is read.
public enum ReadOrder: String, Sendable, CaseIterable {
    case ascending = "asc"
    case descending = "desc"
}
