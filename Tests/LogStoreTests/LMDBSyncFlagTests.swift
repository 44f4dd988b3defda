import CLMDB
import Foundation
import Testing
@testable import LogStore

/// `write(sync: false)` sets `MDB_NOSYNC` on the environment for its own transaction only
/// (LMDB 0.9 reads it from the environment at commit): the commit that follows, synced, must
/// not inherit it, whether the unsynced one committed or threw.
@Suite struct LMDBSyncFlagTests {
    @Test func unsyncedCommitLeavesLaterCommitsSynced() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/sync.mdb", mapSize: 16 << 20)
        defer { env.close() }
        let table = try env.table("t")
        #expect(try #require(env.environmentFlags) & UInt32(MDB_NOSYNC) == 0)

        try env.write(sync: false) { txn in try txn.put(table, Keys.u64(1), Array("unsynced".utf8)) }
        #expect(try #require(env.environmentFlags) & UInt32(MDB_NOSYNC) == 0)

        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try env.write(sync: false) { txn in
                try txn.put(table, Keys.u64(2), Array("aborted".utf8))
                throw Refused()
            }
        }
        #expect(try #require(env.environmentFlags) & UInt32(MDB_NOSYNC) == 0)

        try env.write { txn in try txn.put(table, Keys.u64(3), Array("synced".utf8)) }
        try env.sync()
        let values: [String?] = try env.read { txn in
            try [1, 2, 3].map { key in try txn.get(table, Keys.u64(UInt64(key))).map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(values == ["unsynced", nil, "synced"])
    }

    /// What the flag is for: an unsynced commit does not wait for the disk. A commit waiting for
    /// `fdatasync` sleeps (a voluntary context switch of its thread); one that only writes to
    /// the page cache does not. Calibrated on the synced commits: on a file system whose sync
    /// never waits (tmpfs) there is nothing to tell apart.
    @Test func unsyncedCommitsDoNotWaitForTheDisk() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/sync.mdb", mapSize: 16 << 20)
        defer { env.close() }
        let table = try env.table("t")
        let commits = 40
        func sleeps(sync: Bool, from: Int) throws -> Int {
            let before = try Self.voluntarySwitches()
            for i in from..<(from + commits) {
                try env.write(sync: sync) { txn in try txn.put(table, Keys.u64(UInt64(i)), Array(repeating: UInt8(i & 0xff), count: 3000)) }
            }
            return try Self.voluntarySwitches() - before
        }
        let synced = try sleeps(sync: true, from: 0)
        let unsynced = try sleeps(sync: false, from: commits)
        if synced >= commits {
            #expect(unsynced < commits / 4, "\(unsynced) waits in \(commits) unsynced commits (\(synced) when synced)")
        }
        try env.sync()
        let stored = try env.read { txn in try (0..<(2 * commits)).filter { try txn.get(table, Keys.u64(UInt64($0))) != nil }.count }
        #expect(stored == 2 * commits)
    }

    /// This thread's voluntary context switches so far (`/proc/thread-self/status`).
    static func voluntarySwitches() throws -> Int {
        let status = try String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") })
        return try #require(Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
    }
}
