/// Every tunable limit of the engine, with its reason. Override through `StorageOptions`.
public enum Limits {
    /// A stream's head is sealed into a block at this many lines: ~1000 lines of ~200 bytes
    /// compress well (zlib sees enough repetition) and still decode in well under a millisecond.
    public static let sealLines = 1000
    /// …or at this many raw bytes, so blocks of long lines stay small enough to decode quickly.
    public static let sealBytes = 256 * 1024
    /// …or when its oldest line waited this long, so quiet streams also end up compressed.
    public static let sealAge: Duration = .seconds(30)
    /// How often the writer looks for days whose files are mostly free pages (`releaseFreeBytes`).
    public static let freePagesCheck: Duration = .seconds(60)
    /// A day whose file is at least half free pages and this many bytes of them gives them back
    /// (`Writer.releaseBurstPages`): the head lines of a burst, sealed, leave that much behind.
    public static let releaseFreeBytes = 16 << 20
    /// The writer writes a segment's in-memory postings to disk once this many blocks are pending:
    /// each flush rewrites the touched postings pages, so flushes are batched (a crash loses
    /// nothing: pending blocks are re-tokenized at open).
    /// A flush rewrites most leaf pages of the postings tree (keys are tokens), so it writes about
    /// the index's size: batching 4096 blocks keeps that a small share of ingest, at the price of
    /// ~20 MB of pending postings in memory and ~2 s of re-tokenizing at open after a crash.
    public static let indexFlushBlocks = 4096
    /// … or once the pending postings of all segments hold about this much memory: loghub's
    /// varied text has ~5× the distinct tokens per block of REANA's job logs, and 4096 of its
    /// blocks held ~220 MB of heap (a 5 M-line stream, until the idle flush).
    public static let indexFlushBytes = 64 << 20
    /// … or once the oldest pending block is this old.
    public static let indexFlushAge: Duration = .seconds(120)
    /// … or once nothing was committed for this long: an idle server holds no pending postings
    /// (~10 MB per 1000 pending blocks of REANA-shaped lines) and has nothing to re-tokenize
    /// after a crash.
    public static let indexFlushIdle: Duration = .seconds(10)
    /// A flush writes the pending tokens in runs of this many, one transaction each (about
    /// 7 tokens per rewritten 4 KiB page): LMDB keeps the pages a write transaction dirtied
    /// for the environment's life, so one 23k-token flush left ~13 MB of heap behind. Runs of
    /// 512 instead of 2048: 2–3 MB less anonymous memory once the bench-load workload settles
    /// (16.5/14.9 vs 18.0/17.0 MB), the same ingest. Each transaction is one more fsync, ~45
    /// per flush of 4096 blocks.
    public static let indexFlushTokens = 512
    /// zlib level for blocks sealed during ingest: level 1 deflates REANA-shaped log text at
    /// ~200 MB/s against ~90 MB/s at zlib's default 6 (measured here; ~2 µs less CPU per line,
    /// which was a fifth of the server's ingest CPU) for blocks ~19 % larger. Compaction
    /// re-encodes a finished day at `compactionLevel`, so only the current day pays the size.
    public static let compressionLevel: Int32 = 1
    /// zlib level of the blocks and postings runs a compaction writes: a finished day is
    /// compressed once and read for 30 days, so it gets zlib's smallest output (see
    /// docs/BENCHMARKS.md, "What bounds these figures", for 6 against 9), whatever the ingest level.
    public static let compactionLevel: Int32 = 9
    /// Compaction merges a stream's blocks of a finished day into blocks of up to this many
    /// times the seal limits' lines and raw bytes: a 1,000-line job or a day of a line a minute then
    /// is one block — its pod's fields stored once, each of its tokens one posting — which made
    /// such days 5–7 % smaller (docs/BENCHMARKS.md, "Shapes of log"). Reading a line of such a
    /// block decodes all of it: inflating 1 MiB of loghub text takes ~1.2 ms on the 2-core VM.
    public static let compactedBlockFactor = 4
    /// A day a compaction finds holding less raw log text than this keeps no token index
    /// (`StorageOptions.minIndexedDayBytes`): on quiet days the postings are a fifth to a quarter of the
    /// compacted file, while a search reads the whole day in about a millisecond per MB (measured in
    /// docs/BENCHMARKS.md, "Shapes of log").
    public static let minIndexedDayBytes = 4 << 20
    /// Initial LMDB map of a day segment; it doubles when full (LMDB files only grow as used).
    public static let segmentMapSize = 256 << 20
    /// Initial LMDB map of the catalog.
    public static let catalogMapSize = 64 << 20
    /// The writer holds at most this many queued lines before `append` fails with
    /// `StorageError.overloaded` (the HTTP layer answers 503; FluentBit retries).
    public static let maxQueuedLines = 2_000_000
    /// The writer commits at most this many lines in one transaction (bounds the latency of a
    /// commit and the memory of a batch), continuing with the rest right after.
    public static let maxLinesPerCommit = 200_000
    /// …and merges queued requests into one transaction only up to this many bytes of lines
    /// (one bigger request is still one transaction). LMDB keeps every page a write
    /// transaction dirtied on a private free list for the environment's life, so the largest
    /// commit sets the heap for good: 200k lines of ~500 bytes would leave ~100 MB behind.
    public static let maxBytesPerCommit = 8 << 20
    /// A resent chunk is recognised for this long after it was first stored. FluentBit retries
    /// after seconds to minutes (its scheduler's backoff); an hour covers long outages too.
    public static let dedupWindow: Duration = .seconds(3600)
    /// Longest message accepted (bytes); longer lines are refused, never truncated silently.
    public static let maxMessageBytes = 1 << 20
    /// Decoded sealed blocks kept in memory for repeated reads of the same log (REANA's UI and
    /// `reana-client logs --follow` re-read a job every few seconds): 16 MiB holds ~50
    /// thousand-line blocks, the jobs being followed; the LRU evicts the rest. Reads of random
    /// jobs rarely hit, and a bigger cache cost ~2× its size in resident memory (allocator
    /// fragmentation of ~250 KB blocks), measured with 64 MiB.
    public static let blockCacheBytes = 16 << 20
    /// Day segments open at once (each holds three file descriptors and two maps): 256 is
    /// eight months of days and 768 descriptors, within the 1,024 the server keeps for files
    /// when it caps its connections. Reads over more days reopen segments (tens of µs each).
    public static let maxOpenSegments = 256
    /// At most this many clauses in one query, like OpenSearch's
    /// `indices.query.bool.max_clause_count` (same default): each search term, phrase, prefix
    /// and field filter of the query language counts one; in the DSL each query object, `terms`
    /// value and `match` term does. Matching costs per line grow with the clauses, and 4000 ORs
    /// over a million lines took 25 s; 1024 is more than any reader's query needs.
    public static let maxQueryClauses = 1024
    /// The server stops a read request (search, `hits`, `_count`, a filtered `_search`) after
    /// this long and answers an error naming the limit (`StorageError.queryTimeout`): a query
    /// within the clause limit can still scan every line of a large store, and without a limit
    /// one request could hold a core for minutes. REANA's reads (one job's log, a workflow's
    /// counts) take milliseconds; 30 s leaves room for a person's search over a month.
    public static let queryTimeout: Duration = .seconds(30)
    /// A read holds at most this many bytes of lines for one answer (`StorageError.answerTooLarge`
    /// past it): the blocks a page points into (a block that gives a page few of its lines is
    /// copied out, so this is about the lines themselves) and a sorted search's kept lines.
    /// 10,000 hits of 1 MiB lines would otherwise take 10 GiB; REANA's largest read, a job's
    /// 10,000 lines, takes a few MiB.
    public static let maxReadBytes = 256 << 20
}
