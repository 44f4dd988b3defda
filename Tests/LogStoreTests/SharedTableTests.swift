import CLMDB
import Foundation
import Testing
import TestSupport
@testable import LogStore

/// Tables stored as key ranges of one LMDB table (`LMDBTable.sharing`, what a compacted day of
/// format 4 is made of) behave like tables of their own, and `copySharing` copies tables into
/// that form without changing what they hold.
@Suite struct SharedTableTests {
    typealias Model = [[UInt8]: [UInt8]]

    /// Keys drawn from the bytes at the edges of the order (0x00, 0xFF) so that ranges meet.
    static func key(_ rng: inout SeededRandom) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0xFE, 0xFF]
        return (0..<Int.random(in: 1...5, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
    }

    static func value(_ rng: inout SeededRandom) -> [UInt8] {
        // Now and then a value too big for a leaf (an overflow page), as packs are.
        let count = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 2100...9000, using: &rng) : Int.random(in: 0...40, using: &rng)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func sorted(_ model: Model) -> [([UInt8], [UInt8])] {
        model.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
    }

    static func hasPrefix(_ key: [UInt8], _ prefix: [UInt8]) -> Bool { key.count >= prefix.count && Array(key.prefix(prefix.count)) == prefix }

    /// Random puts, deletes and every read and range delete on three tables sharing an LMDB
    /// table (prefix bytes 0x00, 0x01 and 0xFF: the first, an inner and the last range) and on
    /// a table of its own, each against an in-memory model of the table.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func sharedTablesMatchAModel(seed: UInt64) throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/shared.mdb", mapSize: 64 << 20)
        defer { env.close() }
        let shared = try env.table("shared")
        let tables = [shared.sharing("first", prefix: 0x00), shared.sharing("inner", prefix: 0x01), shared.sharing("last", prefix: 0xFF), try env.table("own")]
        var models = [Model](repeating: [:], count: tables.count)
        var rng = SeededRandom(seed: seed)

        for step in 0..<3000 {
            let t = Int.random(in: 0..<tables.count, using: &rng)
            let table = tables[t]
            let k = Self.key(&rng)
            let op = Int.random(in: 0..<100, using: &rng)
            try env.write { txn in
                switch op {
                case 0..<45:
                    let v = Self.value(&rng)
                    try txn.put(table, k, v, append: Bool.random(using: &rng) && table.prefix != nil)
                    models[t][k] = v
                case 45..<60:
                    #expect(try txn.delete(table, k) == (models[t].removeValue(forKey: k) != nil), "step \(step)")
                case 60..<64:
                    let p = Array(k.prefix(Int.random(in: 0...2, using: &rng)))
                    let doomed = models[t].keys.filter { Self.hasPrefix($0, p) }
                    #expect(try txn.deleteAll(table, prefix: p) == doomed.count, "step \(step)")
                    for d in doomed { models[t][d] = nil }
                case 64..<67:
                    let doomed = Self.sorted(models[t]).map(\.0).prefix { $0.lexicographicallyPrecedes(k) }
                    #expect(try txn.deleteWhile(table) { Array($0).lexicographicallyPrecedes(k) } == doomed.count, "step \(step)")
                    for d in doomed { models[t][d] = nil }
                case 67:
                    try txn.clear(table)
                    models[t] = [:]
                default:
                    try Self.expectReads(txn, table, models[t], probe: k, step: step)
                }
            }
        }
        try env.read { txn in
            for (t, table) in tables.enumerated() {
                for probe in [[0x00], [0xFF], [0x01, 0x02], [0xFF, 0xFF, 0xFF]] as [[UInt8]] {
                    try Self.expectReads(txn, table, models[t], probe: probe, step: -1)
                }
            }
            // The shared LMDB table holds exactly the three tables' entries, each after its prefix.
            var raw: [[UInt8]] = []
            try txn.scan(shared) { k, _ in
                raw.append(Array(k))
                return true
            }
            let expected = (0..<3).flatMap { t in Self.sorted(models[t]).map { [tables[t].prefix!] + $0.0 } }
            #expect(raw == expected)
        }
    }

    /// Every read of `table` against `model`, around `probe`.
    static func expectReads(_ txn: borrowing LMDBTransaction, _ table: LMDBTable, _ model: Model, probe: [UInt8], step: Int) throws {
        let entries = sorted(model)
        #expect(try txn.get(table, probe).map(Array.init) == model[probe], "get, step \(step)")
        #expect(try txn.count(table) == model.count, "count, step \(step)")
        var all: [([UInt8], [UInt8])] = []
        try txn.scan(table) { k, v in
            all.append((Array(k), Array(v)))
            return true
        }
        #expect(all.map(\.0) == entries.map(\.0) && all.map(\.1) == entries.map(\.1), "scan, step \(step)")
        var from: [[UInt8]] = []
        try txn.scan(table, from: probe) { k, _ in
            from.append(Array(k))
            return from.count < 3
        }
        #expect(from == Array(entries.map(\.0).filter { !$0.lexicographicallyPrecedes(probe) }.prefix(3)), "scan from, step \(step)")
        let p = Array(probe.prefix(1))
        var prefixed: [[UInt8]] = []
        try txn.scan(table, prefix: p) { k, _ in
            prefixed.append(Array(k))
            return true
        }
        #expect(prefixed == entries.map(\.0).filter { hasPrefix($0, p) }, "scan prefix, step \(step)")
        #expect(try txn.last(table, prefix: p).map { Array($0.key) } == entries.map(\.0).last { hasPrefix($0, p) }, "last, step \(step)")
        #expect(try txn.last(table, prefix: []).map { Array($0.key) } == entries.last?.0, "last of all, step \(step)")
        let floor = try txn.floor(table, probe)
        let expectedFloor = entries.last { !probe.lexicographicallyPrecedes($0.0) }
        #expect(floor.map { Array($0.key) } == expectedFloor?.0 && floor.map { Array($0.value) } == expectedFloor?.1, "floor, step \(step)")
        if let u64 = model.keys.first(where: { $0.count == 8 }) {
            let n = u64.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).bigEndian }
            #expect(try txn.get(table, u64: n).map(Array.init) == model[u64])
        }
    }

    /// `copySharing` puts tables of their own into one shared table: each reads back the same,
    /// other tables stay tables of their own, the copy has no free pages and no lock file.
    @Test func copySharingKeepsEveryEntry() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let source = try LMDBEnvironment(path: dir.path + "/source.mdb", mapSize: 64 << 20)
        defer { source.close() }
        let names = ["meta", "blocks", "packs", "empty"]
        var models: [String: Model] = [:]
        var rng = SeededRandom(seed: 9)
        for name in names + ["ids"] {
            let table = try source.table(name)
            var model: Model = [:]
            if name != "empty" {
                for _ in 0..<Int.random(in: 50...400, using: &rng) { model[Self.key(&rng) + Self.key(&rng)] = Self.value(&rng) }
                // Deleting some leaves free pages in the source, which the copy does not keep.
                try source.write { txn in for (k, v) in model { try txn.put(table, k, v) } }
                try source.write { txn in
                    for k in model.keys.prefix(20) {
                        try txn.delete(table, k)
                        model[k] = nil
                    }
                }
            }
            models[name] = model
        }
        let path = dir.path + "/copy.mdb"
        try source.copySharing(to: path, sharedName: "shared", shared: [("packs", 9), ("meta", 1), ("blocks", 4), ("empty", 5)], separate: ["ids", "docids"])
        #expect(!FileManager.default.fileExists(atPath: path + "-lock"))
        let copy = try LMDBEnvironment(path: path, mapSize: 64 << 20, readOnly: true)
        defer { copy.close() }
        let shared = try #require(try copy.existingTable("shared"))
        #expect(try copy.existingTable("meta") == nil)
        let prefixes: [String: UInt8] = ["packs": 9, "meta": 1, "blocks": 4, "empty": 5]
        let (ids, docIDs) = (try copy.table("ids"), try copy.table("docids"))
        try copy.read { txn in
            #expect(try txn.freePages() == 0)
            for name in names {
                try Self.expectReads(txn, shared.sharing(name, prefix: prefixes[name]!), models[name]!, probe: [0x01], step: -1)
            }
            try Self.expectReads(txn, ids, models["ids"]!, probe: [0x01], step: -1)
            #expect(try txn.count(docIDs) == 0)
        }
    }
}

/// Format 4 (compacted days may share one LMDB table) reads format 3; a writable open marks
/// the directory 4, which a format-3 build refuses; a newer format is refused here.
@Suite struct FormatVersionTests {
    static func catalogFormat(_ directory: String) throws -> UInt32? {
        let env = try LMDBEnvironment(path: directory + "/" + Keys.catalogFile, mapSize: 16 << 20, readOnly: true)
        defer { env.close() }
        let meta = try env.table(Keys.catalogMeta)
        return try env.read { txn in try txn.get(meta, Keys.metaFormat).map { try Keys.decodeU32($0) } }
    }

    static func setCatalogFormat(_ directory: String, _ format: UInt32) throws {
        let env = try LMDBEnvironment(path: directory + "/" + Keys.catalogFile, mapSize: 16 << 20)
        defer { env.close() }
        let meta = try env.table(Keys.catalogMeta)
        try env.write { txn in try txn.put(meta, Keys.metaFormat, Keys.u32(format)) }
    }

    /// Whether the catalog and the newest file of the day share their tables.
    static func layouts(_ directory: String) throws -> [Bool] {
        let day = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/segments").filter { $0.hasSuffix(".mdb") }.max())
        return try [Keys.catalogFile, "segments/" + day].map { file in
            let env = try LMDBEnvironment(path: directory + "/" + file, mapSize: 16 << 20, readOnly: true)
            defer { env.close() }
            return try env.existingTable(Keys.segmentShared) != nil
        }
    }

    static func messages(_ store: Storage) throws -> [String] {
        try store.search(SearchRequest(query: try QueryParser.parse("kept"), limit: 10)).lines.map(\.message)
    }

    /// A directory in format 3's layout (a table each) opens, is marked 4, compacts (its days
    /// then share their tables, its catalog keeps a table each) and reads the same throughout.
    @Test func formatThreeOpensAndIsMarkedFourANewerOneIsRefused() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let key = StreamKey(index: "idx", workflow: "w", job: "j")
        var formatThree = StorageOptions()
        formatThree.sharedTables = false
        var store = try Storage.open(directory: dir.path, options: formatThree, logger: testLogger)
        _ = try await store.append([line(key, day0, "kept across formats")])
        _ = try await store.compact(now: day0 + 3 * 24 * 3600 * nanosPerSecond)
        store.close()
        #expect(try Self.catalogFormat(dir.path) == Keys.formatVersion)
        #expect(try Self.layouts(dir.path) == [false, false])

        try Self.setCatalogFormat(dir.path, 3)
        var readOnlyOptions = StorageOptions()
        readOnlyOptions.readOnly = true
        let readOnly = try Storage.open(directory: dir.path, options: readOnlyOptions, logger: testLogger)
        #expect(try Self.messages(readOnly) == ["kept across formats"])
        readOnly.close()
        #expect(try Self.catalogFormat(dir.path) == 3)
        store = try Storage.open(directory: dir.path, options: StorageOptions(), logger: testLogger)
        #expect(try Self.messages(store) == ["kept across formats"])
        _ = try await store.append([line(key, day0 + 1, "a late line kept across formats")])
        _ = try await store.compact(now: day0 + 3 * 24 * 3600 * nanosPerSecond)
        #expect(try Self.messages(store) == ["a late line kept across formats", "kept across formats"])
        store.close()
        #expect(try Self.catalogFormat(dir.path) == 4)
        #expect(try Self.layouts(dir.path) == [false, true])
        store = try Storage.open(directory: dir.path, options: StorageOptions(), logger: testLogger)
        #expect(try Self.messages(store) == ["a late line kept across formats", "kept across formats"])
        store.close()

        try Self.setCatalogFormat(dir.path, Keys.formatVersion + 1)
        #expect {
            try Storage.open(directory: dir.path, options: StorageOptions(), logger: testLogger).close()
        } throws: { error in
            guard case StorageError.unsupportedFormat(let found, let supported) = error else { return false }
            return found == Keys.formatVersion + 1 && supported == Keys.formatVersion
        }
    }
}
