#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// StreamKeyBytes is one stream of a ``LineBatchBuilder`` as the bytes documents are compared
/// with (`index 0x00 workflow 0x00 job`), and the fields object of its last document (so the
/// next one equal to it is stored once).
struct StreamKeyBytes: Sendable {
    var key: [UInt8]
    var indexCount: Int
    var workflowCount: Int
    /// The fields object of the stream's last document (for sharing), or start -1.
    var lastFieldsStart = -1
    var lastFieldsCount = 0

    /// Whether `other` (with the given part lengths) is this key.
    @inline(__always)
    func matches(_ other: [UInt8], _ indexCount: Int, _ workflowCount: Int) -> Bool {
        guard key.count == other.count, self.indexCount == indexCount, self.workflowCount == workflowCount else {
            return false
        }
        return key.withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
                return memcmp(pa, pb, a.count) == 0
            }
        }
    }
}
