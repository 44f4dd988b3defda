import LogStore

/// The `--durability` values: `fsync` (the default: a request is acknowledged once its lines
/// are synced to disk) or `written[:INTERVAL]` (acknowledged once the commit reaches the
/// operating system, synced at least every INTERVAL, 100ms unless given, from 1ms to 60s).
public enum DurabilityText {
    public static let defaultSyncEvery = Duration.milliseconds(100)

    public static func parse(_ text: String) -> Durability? {
        let lower = text.lowercased()
        if lower == "fsync" { return .fsync }
        if lower == "written" { return .written(syncEvery: defaultSyncEvery) }
        guard lower.hasPrefix("written:"), let every = RequestNumber.parseDuration(lower.dropFirst(8)),
            every >= .milliseconds(1), every <= .seconds(60)
        else { return nil }
        return .written(syncEvery: every)
    }
}
