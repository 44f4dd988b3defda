import Foundation

extension Storage {
    /// A new deadline of `options.queryTimeout` from now: what a read request that brings no
    /// `QueryDeadline` gets. A request that reads several times (pages of a count) makes one and
    /// passes it to each read so the limit covers the whole request.
    public func queryDeadline() -> QueryDeadline {
        QueryDeadline(limit: options.queryTimeout)
    }

    /// `search` on a background thread; cancelling the calling task stops it (between blocks).
    public func searchAsync(_ request: SearchRequest) async throws -> SearchPage {
        var request = request
        let deadline = request.deadline ?? queryDeadline()
        request.deadline = deadline
        let bound = request
        return try await blocking(cancelling: deadline) { try self.search(bound) }
    }

    /// `hits` on a background thread; cancelling the calling task stops it (between blocks).
    public func hitsAsync(
        _ query: Query, from: Int64? = nil, to: Int64? = nil, step: Int64, deadline: QueryDeadline? = nil
    ) async throws -> HitsResult {
        let deadline = deadline ?? queryDeadline()
        return try await blocking(cancelling: deadline) { try self.hits(query, from: from, to: to, step: step, deadline: deadline) }
    }
}
