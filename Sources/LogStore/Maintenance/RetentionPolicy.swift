import Foundation

/// How much to keep: by age of a whole UTC day and by total disk use.
public struct RetentionPolicy: Sendable, Equatable {
    /// Drop day segments whose every line is older than this.
    public var maxAge: Duration?
    /// Drop the oldest day segments while the data directory is bigger than this (never the
    /// current day).
    public var maxDiskBytes: UInt64?

    public init(maxAge: Duration? = nil, maxDiskBytes: UInt64? = nil) {
        self.maxAge = maxAge
        self.maxDiskBytes = maxDiskBytes
    }

    public var isEmpty: Bool { maxAge == nil && maxDiskBytes == nil }
}
