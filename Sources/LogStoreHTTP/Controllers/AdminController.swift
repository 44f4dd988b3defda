import Foundation
import Hummingbird
import LogStore

/// `GET /health` and `GET /v1/stats`.
struct AdminController {
    let storage: Storage

    func addRoutes(to router: Router<LogStoreContext>) {
        router.get("health") { _, _ -> Response in
            var json = JSONText()
            json.raw("{\"status\":\"ok\",\"last_lsn\":")
            json.number(storage.lastLSN)
            json.raw("}")
            return .json(json.bytes)
        }
        router.get("v1/stats") { _, _ -> Response in
            let stats = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(with: Result { try storage.stats() }) }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return .json([UInt8](try encoder.encode(stats)))
        }
    }
}
