import Foundation
import Hummingbird
import LogStore
import LogStoreIngest

/// `GET /health`, `GET /v1/stats`, `GET /metrics` and `POST /v1/admin/compact`.
struct AdminController {
    let storage: Storage
    let retention: RetentionPolicy
    let tailHub: TailHub
    let metrics: ServerMetrics
    /// The longest `retention` a compaction request may give: ten years of 366 days.
    static let maxRetention: Duration = .seconds(3660 * 86_400)

    func addRoutes(to router: Router<LogStoreContext>) {
        router.get("health") { _, _ -> Response in
            var json = JSONText()
            json.raw("{\"status\":\"ok\",\"last_lsn\":")
            json.number(storage.lastLSN)
            json.raw("}")
            return .json(json.bytes)
        }
        router.get("v1/stats") { _, _ -> Response in
            let stats = try await blocking { try storage.stats() }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return .json([UInt8](try encoder.encode(ServerStats(store: stats, tailWaiters: tailHub.waiting))))
        }
        // Prometheus text format (version 0.0.4): what a scrape job reads every 15–60 s.
        router.get("metrics") { _, _ -> Response in
            let waiting = tailHub.waiting
            let text = try await blocking { try metrics.scrape(storage: storage, tailWaiters: waiting) }
            return .text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        // Deletes a workflow's logs: hidden at once, removed from the files by compaction.
        router.delete("v1/workflows/:id") { _, context -> Response in
            let raw = try context.parameters.require("id")
            let id = raw.removingPercentEncoding ?? raw  // the router leaves path parameters encoded
            guard id.utf8.count <= NameLimits.workflow else {
                throw OpenSearchError.badRequest(
                    "the workflow id is too long, must be no longer than \(NameLimits.workflow) bytes but was: \(id.utf8.count)")
            }
            try await storage.deleteWorkflow(id)
            var json = JSONText()
            json.raw("{\"deleted\":")
            json.string(id)
            json.raw("}")
            return .json(json.bytes)
        }
        // Retention (the server's policy, or `retention=30d` / `max_disk=200GB` given here) and
        // compaction of finished days, now. `dry_run=true` only reports what would be dropped.
        router.post("v1/admin/compact") { request, _ -> Response in
            var policy = retention
            let q = request.uri.queryParameters
            for (name, _) in q where !["retention", "max_disk", "dry_run"].contains(String(name)) {
                throw OpenSearchError.badRequest("unknown parameter '\(name)'; expected retention, max_disk or dry_run")
            }
            if let age = try RequestNumber.duration(request, "retention", in: .seconds(1)...Self.maxRetention) { policy.maxAge = age }
            if let text = q["max_disk"] {
                guard let bytes = ByteSize.parse(String(text)) else {
                    throw OpenSearchError.badRequest(
                        "[max_disk] '\(text.prefix(64))' must be a size like 200GB, from 0 to 8EiB", type: "illegal_argument_exception")
                }
                policy.maxDiskBytes = bytes
            }
            let dryRun = q["dry_run"] == "true"
            var report = try await storage.applyRetention(policy, dryRun: dryRun)
            if !dryRun {
                report.add(compaction: try await storage.compact())
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return .json([UInt8](try encoder.encode(report)))
        }
    }
}
