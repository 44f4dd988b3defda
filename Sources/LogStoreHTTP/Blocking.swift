import Dispatch

/// Runs blocking store work (LMDB scans, stats over every day file) on a Dispatch worker
/// instead of the handler's task, and returns its result.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
