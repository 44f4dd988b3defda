/// Identifies a stream inside one data directory (assigned by the writer, never reused).
public typealias StreamID = UInt64

/// Log sequence number: assigned by the writer in commit order, global to a data directory.
public typealias LSN = UInt64
