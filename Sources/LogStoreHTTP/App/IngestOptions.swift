import LogStore
import LogStoreIngest

/// Limits and defaults of the ingest endpoints.
public struct IngestOptions: Sendable {
    /// Largest request body accepted as sent (413 beyond). FluentBit's chunks are ~2 MB of
    /// msgpack, a few MB as JSON.
    public var maxBodyBytes = 64 << 20
    /// Largest body after gzip/deflate decoding (413 beyond): the gzip-bomb guard.
    public var maxDecodedBytes = 256 << 20
    /// Longest message of one document (per-item 400 beyond).
    public var maxMessageBytes = Limits.maxMessageBytes
    /// Below this much free disk in the data directory, ingest answers 429 (FluentBit retries).
    public var minFreeDiskBytes: UInt64 = 512 << 20
    /// Index for `/v1/ingest` without `?index=`.
    public var defaultIndex = "logs"
    /// Accepted document times and distinct days per request (per-item 400 outside).
    /// Unbounded here; `logstore serve` sets its documented defaults (`--max-age`,
    /// `--max-future`, `--max-days-per-request`).
    public var window = TimeWindow.unbounded
    /// Which document fields give the message, time, job and workflow.
    public var mapping = FieldMapping.reana

    public init() {}
}
