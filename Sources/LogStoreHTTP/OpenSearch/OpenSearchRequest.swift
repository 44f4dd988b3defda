import LogStore

/// OpenSearchRequest is one `_search` request as ``SearchRequestParser`` understood it.
struct OpenSearchRequest {
    /// The query, its time window and predicates.
    var dsl: QueryDSL
    /// Hits to answer, after skipping `from`.
    var size: Int
    var from: Int
    var order: ReadOrder
    /// `search_after`: continue after this position.
    var after: LogPosition?
    var source: SourceFilter
    /// Whether `hits.total` is answered, and up to which count it is exact.
    var trackTotal: Bool
    var totalLimit: Int
    /// `rest_total_hits_as_int`: `hits.total` as a plain number.
    var totalAsInt: Bool
    /// A sort on document fields (nil: log order, `order`) and its `search_after`.
    var sort: SearchSort? = nil
    var sortAfter: SortCursor? = nil
}
