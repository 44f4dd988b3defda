#if canImport(Glibc)
    import Glibc
#endif
import LogStore

/// DiskFull builds the answer to a write refused for want of disk space: **429** (FluentBit and
/// opensearch-py retry it) in OpenSearch's flood-stage shape (`cluster_block_exception`), with a
/// reason that names the disk (the data directory) and its free bytes, so an operator's alert
/// says "disk" rather than "internal error".
enum DiskFull {
    /// Free bytes under which an `EIO` from a write counts as disk full: LMDB reports some
    /// failed writes of a full file system as `EIO` rather than `ENOSPC`.
    static let nearlyFullBytes: UInt64 = 1 << 20

    /// DiskFull.error is the 429 for the data directory `directory`, with `detail` saying what
    /// failed (the floor, or the file system's error).
    static func error(directory: String, detail: String) -> OpenSearchError {
        let free = freeDiskBytes(directory).map { "\($0) bytes free" } ?? "free space unknown"
        return OpenSearchError(
            .tooManyRequests, type: "cluster_block_exception",
            reason: "disk full: the disk holding the data directory \(directory) (\(free)) blocks writes "
                + "[TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark]: \(detail); retry when space is freed")
    }

    /// DiskFull.isDiskFull tells whether `error` means the disk holding `directory` is full:
    /// `ENOSPC` or `EDQUOT`, or `EIO` while under ``nearlyFullBytes`` are free.
    static func isDiskFull(_ error: LMDBError, directory: String) -> Bool {
        if error.isDiskFull { return true }
        guard error.code == EIO, let free = freeDiskBytes(directory) else { return false }
        return free < nearlyFullBytes
    }
}
