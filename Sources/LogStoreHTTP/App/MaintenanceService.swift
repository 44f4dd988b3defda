import LogStore
import Logging
import ServiceLifecycle

/// Applies retention and compacts finished days on a timer (hourly by default) while the
/// server runs; stops with the server.
struct MaintenanceService: Service {
    let storage: Storage
    let policy: RetentionPolicy
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully { return }
            do {
                let retention = policy.isEmpty ? MaintenanceReport() : try await storage.applyRetention(policy)
                let compaction = try await storage.compact()
                logger.info(
                    "maintenance done",
                    metadata: [
                        "dropped": "\(retention.dropped)", "freedBytes": "\(retention.freedBytes)",
                        "compacted": "\(compaction.compacted.count)", "bytesBefore": "\(compaction.bytesBefore)",
                        "bytesAfter": "\(compaction.bytesAfter)",
                    ])
            } catch {
                logger.error("maintenance failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
