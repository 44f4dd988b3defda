import Foundation

extension Storage {
    /// A new deadline of `options.queryTimeout` from now: what a read request that brings no
    /// `QueryDeadline` gets. A request that reads several times (pages of a count) makes one and
    /// passes it to each read so the limit covers the whole request.
    public func queryDeadline() -> QueryDeadline {
        QueryDeadline(limit: options.queryTimeout)
    }

    /// Runs `work` on a background thread under `deadline`, or a new `queryDeadline()` when
    /// it is `nil`; cancelling the calling task stops it (between blocks).
    func blockingRead<T: Sendable>(
        within deadline: QueryDeadline?, _ work: @escaping @Sendable (QueryDeadline) throws -> T
    ) async throws -> T {
        let deadline = deadline ?? queryDeadline()
        return try await blocking(cancelling: deadline) { try work(deadline) }
    }

    /// `search` on a background thread; cancelling the calling task stops it (between blocks).
    public func searchAsync(_ request: SearchRequest) async throws -> SearchPage {
        try await blockingRead(within: request.deadline) { deadline in
            var request = request
            request.deadline = deadline
            return try self.search(request)
        }
    }

    /// `hits` on a background thread; cancelling the calling task stops it (between blocks).
    public func hitsAsync(
        _ query: Query, from: Int64? = nil, to: Int64? = nil, step: Int64, deadline: QueryDeadline? = nil
    ) async throws -> HitsResult {
        try await blockingRead(within: deadline) { try self.hits(query, from: from, to: to, step: step, deadline: $0) }
    }
}
