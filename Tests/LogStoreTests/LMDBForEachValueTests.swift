import Foundation
import Testing
@testable import LogStore

@Suite("LMDB: one cursor for many ascending keys")
struct LMDBForEachValueTests {
    /// `forEachValue` finds exactly what one `get` per key finds, with runs of neighbours
    /// (stepped to), gaps wider than a step (sought), keys missing in between and past the end.
    @Test func findsWhatOneGetPerKeyFinds() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/head.mdb", mapSize: 64 << 20)
        defer { env.close() }
        let table = try env.table("head")
        var rng = SeededRandom(seed: 20261124)
        // ~6,000 of the keys 1...10,000, values of 10–400 bytes (many leaf pages).
        let present = (1...UInt64(10_000)).filter { _ in Int.random(in: 0..<10, using: &rng) < 6 }
        func value(_ key: UInt64) -> [UInt8] { Array(repeating: UInt8(truncatingIfNeeded: key), count: 10 + Int(key % 391)) }
        try env.write { txn in
            for key in present { try txn.put(table, Keys.u64(key), value(key), append: true) }
        }
        try env.read { txn in
            for trial in 0..<200 {
                // Ascending keys: runs of consecutive keys, small and large jumps, some past the end.
                var keys: [UInt64] = []
                var key = UInt64.random(in: 0...200, using: &rng)
                while keys.count < 300 && key < 10_200 {
                    keys.append(key)
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0..<6: key += 1
                    case 6..<9: key += UInt64.random(in: 2...20, using: &rng)
                    default: key += UInt64.random(in: 21...2000, using: &rng)
                    }
                }
                var expected: [UInt64] = []
                for key in keys where try txn.get(table, u64: key) != nil { expected.append(key) }
                var found: [UInt64] = []
                try txn.forEachValue(table, u64: keys, maxStep: UInt64(trial % 3 == 0 ? 1 : 16)) { key, bytes in
                    #expect(Array(bytes) == value(key))
                    found.append(key)
                }
                #expect(found == expected, "trial \(trial)")
            }
            // Keys out of order (not what callers pass, but never a silently missed line).
            for _ in 0..<50 {
                // Mostly ascending and a step apart, with a stretch reversed, two keys swapped
                // and repeats.
                var keys = (0..<200).map { _ in UInt64.random(in: 0...1_000, using: &rng) }.sorted()
                let stretch = Int.random(in: 0..<160, using: &rng)
                keys[stretch..<(stretch + 40)].reverse()
                keys.swapAt(Int.random(in: 0..<200, using: &rng), Int.random(in: 0..<200, using: &rng))
                var expected: [UInt64] = []
                for key in keys where try txn.get(table, u64: key) != nil { expected.append(key) }
                var found: [UInt64] = []
                try txn.forEachValue(table, u64: keys) { key, bytes in
                    #expect(Array(bytes) == value(key))
                    found.append(key)
                }
                #expect(found == expected)
            }
            // No keys, and keys that are all missing.
            var calls = 0
            try txn.forEachValue(table, u64: [UInt64]()) { _, _ in calls += 1 }
            try txn.forEachValue(table, u64: [0, 10_001, 10_002, 50_000]) { _, _ in calls += 1 }
            #expect(calls == 0)
        }
    }
}
