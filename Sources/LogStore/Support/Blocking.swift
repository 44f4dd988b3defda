import Dispatch

/// Runs blocking store work (LMDB reads, scans, stats over every day file) on a Dispatch
/// worker instead of the calling task's thread, and returns its result.
public func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
