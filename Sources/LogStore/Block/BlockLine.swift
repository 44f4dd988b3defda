import Foundation

/// A line inside a block before it is encoded, or after it is decoded (bytes form).
public struct BlockLine: Sendable, Equatable {
    public var timestamp: Int64
    public var lsn: LSN
    public var message: [UInt8]
    public var fields: [UInt8]

    public init(timestamp: Int64, lsn: LSN, message: [UInt8], fields: [UInt8]) {
        self.timestamp = timestamp
        self.lsn = lsn
        self.message = message
        self.fields = fields
    }

    var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
}
