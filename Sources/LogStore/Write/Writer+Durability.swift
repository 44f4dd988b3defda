import Foundation

extension Writer {
    /// Remembers that `env` holds a commit not yet synced (`Durability.written`).
    func noteUnsynced(_ env: LMDBEnvironment) {
        unsynced[ObjectIdentifier(env)] = env
        if unsyncedSince == nil { unsyncedSince = .now }
    }

    /// Seconds the idle writer may sleep: 1, or less when unsynced commits fall due sooner.
    func idleWait() -> TimeInterval {
        guard case .written(let every) = options.durability, let since = unsyncedSince else { return 1 }
        let left = every - (ContinuousClock.now - since)
        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        return min(1, max(0.0005, seconds))
    }

    /// Syncs the environments holding unsynced commits once the oldest is `syncEvery` old (or
    /// at once with `all`, when the writer stops). A failed sync is logged and retried at the
    /// next pass.
    func syncIfDue(all: Bool) {
        guard let since = unsyncedSince, case .written(let every) = options.durability else { return }
        guard all || ContinuousClock.now - since >= every else { return }
        let started = ContinuousClock.now
        var failed: [ObjectIdentifier: LMDBEnvironment] = [:]
        for (key, env) in unsynced {
            do { try env.sync() } catch {
                failed[key] = env
                logger.error("sync failed", metadata: ["file": "\(env.path)", "error": "\(error)"])
            }
        }
        unsynced = failed
        unsyncedSince = failed.isEmpty ? nil : started
    }
}
