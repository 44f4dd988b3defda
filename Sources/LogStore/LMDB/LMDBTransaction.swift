import CLMDB
import Foundation

/// A transaction handed to `LMDBEnvironment.read`/`write` closures. It must not escape the
/// closure; bytes it returns point into the memory map and are valid only inside it.
public struct LMDBTransaction: ~Copyable {
    let txn: OpaquePointer
    let path: String

    init(txn: OpaquePointer, path: String) {
        self.txn = txn
        self.path = path
    }

    func openTable(_ name: String, flags: UInt32) throws -> LMDBTable {
        var dbi: MDB_dbi = 0
        try lmdbCheck(mdb_dbi_open(txn, name, flags, &dbi), "mdb_dbi_open(\(name), \(path))")
        return LMDBTable(dbi: dbi, name: name)
    }

    /// The value stored under `key`, borrowed from the map, or nil.
    public func get(_ table: LMDBTable, _ key: some ContiguousBytes) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(txn, table.dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_get(\(table.name))")
            return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        }
    }

    /// `get` under the 8-byte big-endian key of `key` (`Keys.u64`), without allocating it.
    @inline(__always)
    public func get(_ table: LMDBTable, u64 key: UInt64) throws -> UnsafeRawBufferPointer? {
        var bigEndian = key.bigEndian
        return try withUnsafeMutableBytes(of: &bigEndian) { keyBytes in
            var k = MDB_val(mv_size: 8, mv_data: keyBytes.baseAddress)
            var v = MDB_val()
            let rc = mdb_get(txn, table.dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_get(\(table.name))")
            return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        }
    }

    /// Stores `value` under `key` (replacing any value).
    public func put(_ table: LMDBTable, _ key: some ContiguousBytes, _ value: some ContiguousBytes, append: Bool = false) throws {
        try key.withUnsafeBytes { keyBytes in
            try value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                try lmdbCheck(mdb_put(txn, table.dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0), "mdb_put(\(table.name), \(path))")
            }
        }
    }

    /// Deletes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ table: LMDBTable, _ key: some ContiguousBytes) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let rc = mdb_del(txn, table.dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try lmdbCheck(rc, "mdb_del(\(table.name), \(path))")
            return true
        }
    }

    /// Removes every entry of `table` (keeps the table).
    public func clear(_ table: LMDBTable) throws {
        try lmdbCheck(mdb_drop(txn, table.dbi, 0), "mdb_drop(\(table.name))")
    }

    /// Number of entries in `table`.
    public func count(_ table: LMDBTable) throws -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(txn, table.dbi, &stat), "mdb_stat(\(table.name))")
        return stat.ms_entries
    }

    /// Pages used by `table` (branch + leaf + overflow).
    public func pages(_ table: LMDBTable) throws -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(txn, table.dbi, &stat), "mdb_stat(\(table.name))")
        return stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages
    }

    /// Pages on LMDB's free list (reusable by later writes; part of the file's size). Counts
    /// the page lists of the free table (dbi 0), each an `MDB_IDL` whose first word is its length.
    public func freePages() throws -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, 0, &cursor), "mdb_cursor_open(free)")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var total = 0
        var rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while rc == 0 {
            if v.mv_size >= MemoryLayout<Int>.size { total += v.mv_data.loadUnaligned(as: Int.self) }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try lmdbCheck(rc, "mdb_cursor_get(free)") }
        return total
    }

    /// Visits entries of `table` in key order starting at the first key ≥ `from` (or the
    /// first key), while `body` returns true. Key and value are borrowed from the map.
    public func scan(
        _ table: LMDBTable,
        from start: [UInt8]? = nil,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, table.dbi, &cursor), "mdb_cursor_open(\(table.name))")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        if let start {
            rc = start.withUnsafeBytes { bytes in
                k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        }
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            let value = UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            if try !body(key, value) { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try lmdbCheck(rc, "mdb_cursor_get(\(table.name))") }
    }

    /// Visits entries whose key starts with `prefix`, in key order.
    public func scan(
        _ table: LMDBTable,
        prefix: [UInt8],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try scan(table, from: prefix) { key, value in
            guard key.count >= prefix.count, memcmp(key.baseAddress!, prefix, prefix.count) == 0 else { return false }
            return try body(key, value)
        }
    }

    /// The last entry whose key starts with `prefix` (key and value borrowed from the map), or nil.
    public func last(
        _ table: LMDBTable, prefix: [UInt8]
    ) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        // The last key at most the prefix followed by 0xFF up to LMDB's longest key.
        let beyond = prefix + [UInt8](repeating: 0xFF, count: 511 - prefix.count)
        guard let found = try floor(table, beyond), found.key.count >= prefix.count,
            memcmp(found.key.baseAddress!, prefix, prefix.count) == 0
        else { return nil }
        return found
    }

    /// The last entry whose key is at most `key` (borrowed from the map), or nil.
    public func floor(
        _ table: LMDBTable, _ key: [UInt8]
    ) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, table.dbi, &cursor), "mdb_cursor_open(\(table.name))")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc = key.withUnsafeBytes { bytes in
            k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        if rc == 0 {
            let found = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            if !found.elementsEqual(key) { rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV) }
        } else if rc == MDB_NOTFOUND {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        }
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_cursor_get(\(table.name))")
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Deletes entries from the first key on while `predicate(key)` holds; returns how many.
    @discardableResult
    public func deleteWhile(_ table: LMDBTable, _ predicate: (UnsafeRawBufferPointer) -> Bool) throws -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, table.dbi, &cursor), "mdb_cursor_open(\(table.name))")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        var deleted = 0
        while rc == 0 {
            guard predicate(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)) else { break }
            try lmdbCheck(mdb_cursor_del(cursor, 0), "mdb_cursor_del(\(table.name))")
            deleted += 1
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != 0 && rc != MDB_NOTFOUND { try lmdbCheck(rc, "mdb_cursor_get(\(table.name))") }
        return deleted
    }

    /// Deletes every entry whose key starts with `prefix`; returns how many.
    @discardableResult
    public func deleteAll(_ table: LMDBTable, prefix: [UInt8]) throws -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, table.dbi, &cursor), "mdb_cursor_open(\(table.name))")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc = prefix.withUnsafeBytes { bytes in
            k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        var deleted = 0
        while rc == 0 {
            guard k.mv_size >= prefix.count, memcmp(k.mv_data, prefix, prefix.count) == 0 else { break }
            try lmdbCheck(mdb_cursor_del(cursor, 0), "mdb_cursor_del(\(table.name))")
            deleted += 1
            // After mdb_cursor_del the cursor already rests on the following entry; LMDB's
            // MDB_NEXT returns that entry without advancing (its C_DEL flag).
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != 0 && rc != MDB_NOTFOUND { try lmdbCheck(rc, "mdb_cursor_get(\(table.name))") }
        return deleted
    }
}
