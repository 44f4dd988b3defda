import LogStore
import NIOCore

extension ConnectionRegistry {
    /// Runs `body`, cancelling `deadline` if the client of `channel` goes away meanwhile, so a
    /// read stops between blocks instead of working for no one. Throws
    /// `StorageError.queryCancelled` without running `body` when the client already went; runs
    /// `body` unwatched when the connection is not registered (a test router).
    func cancelling<T>(_ deadline: QueryDeadline, whenClosed channel: (any Channel)?, _ body: () async throws -> T) async throws -> T {
        guard let channel, let state = state(of: channel) else { return try await body() }
        guard state.onClose({ deadline.cancel() }) else { throw StorageError.queryCancelled }
        defer { state.clearOnClose() }
        return try await body()
    }
}
