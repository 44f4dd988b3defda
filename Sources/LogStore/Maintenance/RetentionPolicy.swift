import Foundation

/// How much to keep: by age of a whole UTC day (for every index, or per index pattern) and by
/// total disk use.
public struct RetentionPolicy: Sendable, Equatable {
    /// Drop day segments whose every line is older than this (the age of indices no rule of
    /// `perIndex` names).
    public var maxAge: Duration?
    /// Drop the oldest day segments while the data directory is bigger than this (never the
    /// current day).
    public var maxDiskBytes: UInt64?
    /// Ages per index pattern, the first rule whose pattern matches an index deciding
    /// (`fluentbit-*=30d,*=90d`). A day whose every index is past its age is dropped whole;
    /// otherwise the lines of the indices past their age are removed from it (hidden at once,
    /// their space reused and freed by the day's next compaction).
    public var perIndex: [IndexRetention]

    public init(maxAge: Duration? = nil, maxDiskBytes: UInt64? = nil, perIndex: [IndexRetention] = []) {
        self.maxAge = maxAge
        self.maxDiskBytes = maxDiskBytes
        self.perIndex = perIndex
    }

    public var isEmpty: Bool { maxAge == nil && maxDiskBytes == nil && perIndex.isEmpty }

    /// The age `index` keeps its lines (nil: forever).
    public func maxAge(of index: String) -> Duration? {
        perIndex.first { $0.matches(index) }?.maxAge ?? maxAge
    }
}

/// IndexRetention is one rule of a per-index retention: the indices its pattern names (`*`
/// matches any run of characters) keep their lines this long.
public struct IndexRetention: Sendable, Equatable {
    public var pattern: String
    public var maxAge: Duration

    public init(pattern: String, maxAge: Duration) {
        self.pattern = pattern
        self.maxAge = maxAge
    }

    /// Whether the pattern names `index`.
    public func matches(_ index: String) -> Bool { Glob.matches(pattern, index) }
}
