import Dispatch

/// Runs blocking store work (LMDB reads, scans, stats over every day file) on a Dispatch
/// worker instead of the calling task's thread, and returns its result.
public func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs `work` as `blocking` does, cancelling `deadline` when the calling task is cancelled, so
/// that a read which checks the deadline stops on its worker thread too.
public func blocking<T: Sendable>(cancelling deadline: QueryDeadline, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withTaskCancellationHandler {
        try await blocking(work)
    } onCancel: {
        deadline.cancel()
    }
}
