import Synchronization

/// LoginThrottle slows password guessing per client address: after `freeFailures` failed
/// logins, every further failure blocks the address for twice as long as the one before
/// (`firstBlock`, by default 1 s, 2 s, 4 s … at most `maxBlock`); while blocked, every request needing a login is
/// refused with 429 without looking at its credentials. A success clears the address; an
/// address with no failure for `forgetAfter` is forgotten. At most `maxAddresses` are kept
/// (when full, those not blocked now are dropped first).
///
/// With the defaults an address gets 5 tries, then about one try per 5 minutes: guessing
/// even a weak 8-character password would take centuries.
public final class LoginThrottle: Sendable {
    let freeFailures: Int
    let firstBlock: Duration
    let maxBlock: Duration
    let forgetAfter: Duration
    let maxAddresses: Int

    struct Entry {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
        var blockedUntil: ContinuousClock.Instant
    }
    /// Guards the failures per address.
    let entries = Mutex<[String: Entry]>([:])

    public init(
        freeFailures: Int = 5, firstBlock: Duration = .seconds(1), maxBlock: Duration = .seconds(300), forgetAfter: Duration = .seconds(900),
        maxAddresses: Int = 100_000
    ) {
        self.freeFailures = freeFailures
        self.firstBlock = firstBlock
        self.maxBlock = maxBlock
        self.forgetAfter = forgetAfter
        self.maxAddresses = maxAddresses
    }

    /// LoginThrottle.blocked returns how long `address` must still wait, or nil when it may
    /// try now.
    public func blocked(_ address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLock { entries in
            guard let entry = entries[address], entry.blockedUntil > now else { return nil }
            return now.duration(to: entry.blockedUntil)
        }
    }

    /// LoginThrottle.failed records a failed login from `address`.
    ///
    /// - Returns: the block it now serves (nil while under `freeFailures`).
    @discardableResult
    public func failed(_ address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLock { entries in
            var entry = entries[address] ?? Entry(failures: 0, lastFailure: now, blockedUntil: now)
            if entry.lastFailure.duration(to: now) > forgetAfter { entry.failures = 0 }
            entry.failures += 1
            entry.lastFailure = now
            var block: Duration?
            if entry.failures > freeFailures {
                let doublings = min(entry.failures - freeFailures - 1, 30)
                let length = min(firstBlock * (1 << doublings), maxBlock)
                block = length
                entry.blockedUntil = now + length
            }
            if entries[address] == nil && entries.count >= maxAddresses { prune(&entries, now: now) }
            entries[address] = entry
            return block
        }
    }

    /// LoginThrottle.succeeded forgets the failures of `address`.
    public func succeeded(_ address: String) {
        entries.withLock { entries in
            if entries[address] != nil { entries[address] = nil }
        }
    }

    private func prune(_ entries: inout [String: Entry], now: ContinuousClock.Instant) {
        entries = entries.filter { $0.value.blockedUntil > now && $0.value.lastFailure.duration(to: now) <= forgetAfter }
        if entries.count >= maxAddresses { entries.removeAll() }
    }
}
