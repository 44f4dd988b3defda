import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import NIOCore
import ServiceLifecycle

/// Resumes waiting tail requests at their deadline (a few times a second) while the server
/// runs, and answers all of them on shutdown.
struct TailService: Service {
    let hub: TailHub

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(50)) }
            } catch {
                break
            }
            hub.expire(now: .now)
        }
        hub.shutdown()
    }
}
