import Foundation

/// A line whose bytes live elsewhere; valid only while that memory is (see `SealableLine`).
struct LineView: SealableLine, @unchecked Sendable {
    var timestamp: Int64
    var lsn: LSN
    var message: UnsafeRawBufferPointer
    var fields: UnsafeRawBufferPointer

    var messageCount: Int { message.count }
    var fieldsCount: Int { fields.count }
    @inline(__always) func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(message) }
    @inline(__always) func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(fields) }
}
