import Foundation

/// What a block is encoded from: a line's position, and its message and fields bytes.
/// `BlockLine` owns its bytes; `LineView` points at bytes that outlive the encoding (the
/// writer's commit arena, or head values inside a read transaction), so sealing copies each
/// message once, into the block payload.
protocol SealableLine {
    var timestamp: Int64 { get }
    var lsn: LSN { get }
    var messageCount: Int { get }
    var fieldsCount: Int { get }
    func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension SealableLine {
    var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
    /// Bytes the line counts as in "raw bytes" statistics and block size limits.
    var rawSize: Int { messageCount + fieldsCount }
}

extension BlockLine: SealableLine {
    var messageCount: Int { message.count }
    var fieldsCount: Int { fields.count }
    func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try message.withUnsafeBytes(body) }
    func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try fields.withUnsafeBytes(body) }
}
