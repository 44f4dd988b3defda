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

    /// Runs `body` with the LMDB key of `key` in `table`: the bytes themselves, or, in a table
    /// sharing an LMDB table, its prefix byte and the bytes (on the stack).
    @inline(__always)
    private func withKey<T>(_ table: LMDBTable, _ key: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> T) throws -> T {
        guard let prefix = table.prefix else {
            var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
            return try body(&k)
        }
        guard key.count < Self.maxKeyBytes else {
            throw LMDBError(code: MDB_BAD_VALSIZE, operation: "key of \(key.count) bytes in \(table.name)")
        }
        return try withUnsafeTemporaryAllocation(byteCount: key.count + 1, alignment: 1) { buffer in
            buffer[0] = prefix
            if let base = key.baseAddress, key.count > 0 { (buffer.baseAddress! + 1).copyMemory(from: base, byteCount: key.count) }
            var k = MDB_val(mv_size: key.count + 1, mv_data: buffer.baseAddress)
            return try body(&k)
        }
    }

    /// LMDB's longest key (`mdb_env_get_maxkeysize` of the default build).
    static let maxKeyBytes = 511

    /// The key LMDB returned, as `table`'s key: nil when it lies outside the table (another
    /// table's range of a shared LMDB table), else without the prefix byte.
    @inline(__always)
    private static func tableKey(_ table: LMDBTable, _ k: MDB_val) -> UnsafeRawBufferPointer? {
        guard let prefix = table.prefix else { return UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size) }
        guard k.mv_size > 0, k.mv_data.load(as: UInt8.self) == prefix else { return nil }
        return UnsafeRawBufferPointer(start: k.mv_data + 1, count: k.mv_size - 1)
    }

    /// The value stored under `key`, borrowed from the map, or nil.
    public func get(_ table: LMDBTable, _ key: some ContiguousBytes) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { keyBytes in try get(table, bytes: keyBytes) }
    }

    /// `get` under the 8-byte big-endian key of `key` (`Keys.u64`), without allocating it.
    @inline(__always)
    public func get(_ table: LMDBTable, u64 key: UInt64) throws -> UnsafeRawBufferPointer? {
        var bigEndian = key.bigEndian
        return try withUnsafeBytes(of: &bigEndian) { keyBytes in try get(table, bytes: keyBytes) }
    }

    @inline(__always)
    private func get(_ table: LMDBTable, bytes: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        try withKey(table, bytes) { k in
            var v = MDB_val()
            let rc = mdb_get(txn, table.dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_get(\(table.name))")
            return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        }
    }

    /// Stores `value` under `key` (replacing any value). `append` (`MDB_APPEND`: the key must
    /// sort after every key of the table) fills pages completely; it is ignored in a table
    /// sharing an LMDB table, whose later ranges may already hold keys.
    public func put(_ table: LMDBTable, _ key: some ContiguousBytes, _ value: some ContiguousBytes, append: Bool = false) throws {
        try key.withUnsafeBytes { keyBytes in
            try value.withUnsafeBytes { valueBytes in
                try withKey(table, keyBytes) { k in
                    var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                    let flags = append && table.prefix == nil ? UInt32(MDB_APPEND) : 0
                    try lmdbCheck(mdb_put(txn, table.dbi, &k, &v, flags), "mdb_put(\(table.name), \(path))")
                }
            }
        }
    }

    /// `put` with `MDB_APPEND` into a table sharing an LMDB table, written in key order from
    /// its first range to its last (`LMDBEnvironment.copySharing`).
    func putAppending(_ table: LMDBTable, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        try withKey(table, key) { k in
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            try lmdbCheck(mdb_put(txn, table.dbi, &k, &v, UInt32(MDB_APPEND)), "mdb_put(\(table.name), \(path))")
        }
    }

    /// Deletes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ table: LMDBTable, _ key: some ContiguousBytes) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            try withKey(table, keyBytes) { k in
                let rc = mdb_del(txn, table.dbi, &k, nil)
                if rc == MDB_NOTFOUND { return false }
                try lmdbCheck(rc, "mdb_del(\(table.name), \(path))")
                return true
            }
        }
    }

    /// Removes every entry of `table` (keeps the table).
    public func clear(_ table: LMDBTable) throws {
        guard table.prefix == nil else {
            try deleteAll(table, prefix: [])
            return
        }
        try lmdbCheck(mdb_drop(txn, table.dbi, 0), "mdb_drop(\(table.name))")
    }

    /// Number of entries in `table`.
    public func count(_ table: LMDBTable) throws -> Int {
        guard table.prefix == nil else {
            var n = 0
            try scan(table) { _, _ in
                n += 1
                return true
            }
            return n
        }
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(txn, table.dbi, &stat), "mdb_stat(\(table.name))")
        return stat.ms_entries
    }

    /// Pages used by `table` (branch + leaf + overflow). For a table sharing an LMDB table:
    /// the leaf pages its entries fill (LMDB node sizes, as for a table of its own written in
    /// key order) and the overflow pages of its big values.
    public func pages(_ table: LMDBTable) throws -> Int {
        guard table.prefix == nil else {
            let pageSize = 4096
            var leafBytes = 0
            var overflow = 0
            try scan(table) { k, v in
                // Node: 8-byte header, the key with its prefix byte, the value or an overflow page
                // number; 2 bytes of the page's index; 2-byte aligned.
                let inline = v.count <= pageSize / 2 - 16
                leafBytes += (8 + k.count + 1 + (inline ? v.count : 8) + 1) & ~1 + 2
                if !inline { overflow += (v.count + 16 + pageSize - 1) / pageSize }
                return true
            }
            return (leafBytes + pageSize - 17) / (pageSize - 16) + overflow
        }
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
        let seek = start ?? []
        if seek.isEmpty && table.prefix == nil {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        } else {
            rc = try seek.withUnsafeBytes { bytes in
                try withKey(table, bytes) { key in
                    let found = mdb_cursor_get(cursor, &key, &v, MDB_SET_RANGE)
                    k = key  // the key found, in the map
                    return found
                }
            }
        }
        while rc == 0 {
            guard let key = Self.tableKey(table, k) else { return }
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
        // The last key at most the prefix followed by 0xFF up to the table's longest key.
        let longest = Self.maxKeyBytes - (table.prefix == nil ? 0 : 1)
        let beyond = prefix + [UInt8](repeating: 0xFF, count: longest - prefix.count)
        guard let found = try floor(table, beyond), found.key.count >= prefix.count,
            prefix.isEmpty || memcmp(found.key.baseAddress!, prefix, prefix.count) == 0
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
        var rc = try key.withUnsafeBytes { bytes in
            try withKey(table, bytes) { sought in
                let found = mdb_cursor_get(cursor, &sought, &v, MDB_SET_RANGE)
                k = sought
                return found
            }
        }
        if rc == 0 {
            let found = Self.tableKey(table, k)
            if found == nil || !found!.elementsEqual(key) { rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV) }
        } else if rc == MDB_NOTFOUND {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        }
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_cursor_get(\(table.name))")
        guard let found = Self.tableKey(table, k) else { return nil }
        return (found, UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Deletes entries from the first key on while `predicate(key)` holds; returns how many.
    @discardableResult
    public func deleteWhile(_ table: LMDBTable, _ predicate: (UnsafeRawBufferPointer) -> Bool) throws -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, table.dbi, &cursor), "mdb_cursor_open(\(table.name))")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        if var prefix = table.prefix {
            rc = withUnsafeMutableBytes(of: &prefix) { bytes in
                k = MDB_val(mv_size: 1, mv_data: bytes.baseAddress)
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        }
        var deleted = 0
        while rc == 0 {
            guard let key = Self.tableKey(table, k), predicate(key) else { break }
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
        let full = (table.prefix.map { [$0] } ?? []) + prefix
        var rc = full.withUnsafeBytes { bytes in
            k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return mdb_cursor_get(cursor, &k, &v, full.isEmpty ? MDB_FIRST : MDB_SET_RANGE)
        }
        var deleted = 0
        while rc == 0 {
            guard k.mv_size >= full.count, memcmp(k.mv_data, full, full.count) == 0 else { break }
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
