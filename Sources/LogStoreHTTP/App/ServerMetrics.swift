import LogStore
import Prometheus

/// The server's Prometheus metrics, served at `GET /metrics` in the text exposition format.
///
/// Ingest counters are kept as requests are answered; the store's figures (lines, bytes,
/// segments, heads, pending index, tail waiters) are read at each scrape. `logstore serve` also
/// bootstraps swift-metrics with this registry, so Hummingbird's per-route request counters and
/// durations (`hb_requests`, `http_server_request_duration_seconds`, `hb_request_errors`) appear
/// beside them. Each `ServerOptions` gets its own registry, so servers in one process (tests)
/// do not share counts.
public final class ServerMetrics: Sendable {
    /// Where every metric of this server is registered.
    public let registry: PrometheusCollectorRegistry

    /// Counters of one ingest API (`bulk`: `/_bulk`, `http`: FluentBit's `http` output).
    struct Ingest: Sendable {
        let requests: Counter
        let bodyBytes: Counter
        let lines: Counter
        let rejected: Counter
        let duplicates: Counter
        let refused: Counter
    }
    let bulk: Ingest
    let http: Ingest

    let lines: Gauge
    let streams: Gauge
    let segments: Gauge
    let rawBytes: Gauge
    let storedBytes: Gauge
    let freeBytes: Gauge
    let headLines: Gauge
    let pendingIndexBlocks: Gauge
    let lastLSN: Gauge
    let tailWaiters: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        /// `logstore_<subsystem>_<name>_<unit>` (empty parts left out).
        func name(_ subsystem: String?, _ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "logstore", subsystem: subsystem, metricName: metric, unitName: unit, helpText: help)
        }
        func ingest(_ api: String) -> Ingest {
            let labels = [("api", api)]
            func counter(_ metric: String, _ help: String) -> Counter {
                registry.makeCounter(descriptor: name("ingest", metric, "total", help), labels: labels)
            }
            return Ingest(
                requests: counter("requests", "Ingest requests answered 200 (all or some documents stored)."),
                bodyBytes: counter("body_bytes", "Request body bytes of those requests, after gzip/deflate decoding."),
                lines: counter("lines", "Lines stored (durable before the answer); resent bodies not counted."),
                rejected: counter("rejected_documents", "Documents refused with a per-item error."),
                duplicates: counter("duplicate_requests", "Resent request bodies recognised and not stored again (FluentBit retries)."),
                refused: counter("refused_requests", "Ingest requests refused whole (4xx/5xx: bad body, too large, disk low, writer queue full)."))
        }
        func gauge(_ metric: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: name(nil, metric, unit, help))
        }
        bulk = ingest("bulk")
        http = ingest("http")
        lines = gauge("lines", "", "Lines stored.")
        streams = gauge("streams", "", "Streams (index, workflow, job) stored.")
        segments = gauge("segments", "", "Day segments (files).")
        rawBytes = gauge("raw", "bytes", "Bytes of the lines as received (message and fields).")
        storedBytes = gauge("stored", "bytes", "Bytes of the data files on disk.")
        freeBytes = gauge("free", "bytes", "Bytes of free pages inside the data files (reused before the files grow).")
        headLines = gauge("head_lines", "", "Lines not yet sealed into compressed blocks.")
        pendingIndexBlocks = gauge("pending_index_blocks", "", "Sealed blocks whose full-text postings are not yet flushed.")
        lastLSN = gauge("last_lsn", "", "Highest log sequence number committed.")
        tailWaiters = gauge("tail_waiters", "", "/v1/tail long-polls waiting now.")
    }

    /// The counters of `api` (`bulk` or `http`).
    func ingest(_ api: IngestAPI) -> Ingest { api == .bulk ? bulk : http }

    enum IngestAPI { case bulk, http }

    /// Counts one answered ingest request.
    func answered(_ api: IngestAPI, bodyBytes: Int, stored: Int, rejected: Int, receipt: AppendReceipt?) {
        let m = ingest(api)
        m.requests.increment()
        m.bodyBytes.increment(by: Int64(bodyBytes))
        m.rejected.increment(by: Int64(rejected))
        if let receipt, receipt.duplicateChunk {
            m.duplicates.increment()
        } else {
            m.lines.increment(by: Int64(max(0, stored - (receipt?.duplicateIDs ?? 0))))
        }
    }

    /// Reads the store's figures into the gauges and renders every metric.
    func scrape(storage: Storage, tailWaiters waiting: Int) throws -> [UInt8] {
        let stats = try storage.stats(countingBlocks: false)
        lines.set(Double(stats.lines))
        streams.set(Double(stats.streams))
        segments.set(Double(stats.segments.count))
        rawBytes.set(Double(stats.rawBytes))
        storedBytes.set(Double(stats.storedBytes))
        freeBytes.set(Double(stats.freeBytes))
        headLines.set(Double(stats.segments.reduce(0) { $0 + $1.headLines }))
        pendingIndexBlocks.set(Double(stats.segments.reduce(0) { $0 + $1.pendingIndexBlocks }))
        lastLSN.set(Double(stats.lastLSN))
        tailWaiters.set(Double(waiting))
        return registry.emitToBuffer()
    }
}
