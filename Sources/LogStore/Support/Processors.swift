import Foundation

/// The processors this process may use, read once: Foundation's `activeProcessorCount` reads
/// the cgroup's CPU quota files on every call, which a per-request split of work should not.
public enum Processors {
    public static let active = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
