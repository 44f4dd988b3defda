import CLMDB
import Foundation

/// Tables that share one LMDB table, each the keys after its prefix byte (`LMDBTable.sharing`):
/// opening a file's tables in either layout, and copying a file into the shared one.
extension LMDBEnvironment {
    /// The table `name`: a key range of `shared` when there is one and `prefixes` gives `name`
    /// a byte, else the named table of its own (`table(_:)`).
    public func table(_ name: String, sharedIn shared: LMDBTable?, prefixes: [(name: String, prefix: UInt8)]) throws -> LMDBTable {
        guard let shared, let prefix = prefixes.first(where: { $0.name == name })?.prefix else { return try table(name) }
        return shared.sharing(name, prefix: prefix)
    }

    /// Writes a copy of the environment, as of one read transaction, to the new file
    /// `destination`, with the tables `shared` stored as one LMDB table `sharedName`: each as
    /// the keys that start with its prefix byte (`LMDBTable.sharing`), written in key order with
    /// `MDB_APPEND` (full pages, no free ones); `separate` tables are copied as tables of their
    /// own (created even when empty). A day's small tables then share leaf pages instead of
    /// taking at least one each. The copy has no lock file (its first opener creates it) and
    /// is not synced: `fsync` it before relying on it. The file must not exist.
    public func copySharing(to destination: String, sharedName: String, shared: [(name: String, prefix: UInt8)], separate: [String]) throws {
        let sources = try shared.sorted { $0.prefix < $1.prefix }.map { (table: try table($0.name), prefix: $0.prefix) }
        let others = try separate.map { try table($0) }
        let mapSize = info().mapSize
        var handle: OpaquePointer?
        try lmdbCheck(mdb_env_create(&handle), "mdb_env_create")
        defer { mdb_env_close(handle) }
        try lmdbCheck(mdb_env_set_maxdbs(handle, UInt32(separate.count + 1)), "mdb_env_set_maxdbs")
        try lmdbCheck(mdb_env_set_mapsize(handle, mapSize), "mdb_env_set_mapsize")
        try lmdbCheck(mdb_env_open(handle, destination, UInt32(MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC), 0o644), "mdb_env_open(\(destination))")
        var txn: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(handle, nil, 0, &txn), "mdb_txn_begin(write, \(destination))")
        do {
            let copy = LMDBTransaction(txn: txn!, path: destination)
            let target = try copy.openTable(sharedName, flags: UInt32(MDB_CREATE))
            let targets = try separate.map { try copy.openTable($0, flags: UInt32(MDB_CREATE)) }
            try read { source in
                for (table, prefix) in sources {
                    let into = target.sharing(table.name, prefix: prefix)
                    try source.scan(table) { k, v in
                        try copy.putAppending(into, k, v)
                        return true
                    }
                }
                for (from, to) in zip(others, targets) {
                    try source.scan(from) { k, v in
                        try copy.put(to, k, v, append: true)
                        return true
                    }
                }
            }
            try lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit(\(destination))")
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
    }
}
