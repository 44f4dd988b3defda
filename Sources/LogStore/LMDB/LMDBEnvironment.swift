import CLMDB
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A named table (LMDB "database") inside an environment, or one key range of a shared one.
///
/// With a `prefix`, the table is the entries of the LMDB table `dbi` whose keys start with that
/// byte (`LMDBEnvironment.copySharing`): every `LMDBTransaction` call adds the byte to the keys
/// it is given and strips it from the keys it hands back, so callers see a table of its own.
/// Such a table's keys are at most 510 bytes; `MDB_APPEND` is not used for it.
public struct LMDBTable: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The table's name, for error messages.
    public let name: String
    /// The first byte of every key of this table within a shared LMDB table; nil for a table of its own.
    let prefix: UInt8?

    init(dbi: MDB_dbi, name: String, prefix: UInt8? = nil) {
        self.dbi = dbi
        self.name = name
        self.prefix = prefix
    }

    /// The table `name` stored as the keys starting with `prefix` in this (shared) table.
    public func sharing(_ name: String, prefix: UInt8) -> LMDBTable {
        LMDBTable(dbi: dbi, name: name, prefix: prefix)
    }
}

/// One LMDB environment (one `.mdb` file, `MDB_NOSUBDIR`).
///
/// Read transactions may run on any thread at once (`MDB_NOTLS`); write transactions are
/// serialized by LMDB and, in this project, only ever issued by the single writer thread.
/// The map grows on `MDB_MAP_FULL`: the failed write is aborted, the map doubled under an
/// exclusive lock (no transaction of this process may be open while `mdb_env_set_mapsize`
/// runs), and the write retried. The environment is closed by `close()` or on `deinit`.
///
/// `@unchecked Sendable`: the `MDB_env*` is safe to share between threads for
/// `mdb_txn_begin`; the only call that is not (`mdb_env_set_mapsize`) runs while `resizeLock`
/// is held exclusively, and every transaction holds it shared.
public final class LMDBEnvironment: @unchecked Sendable {
    private var env: OpaquePointer?
    /// The file path of the environment.
    public let path: String
    /// True when opened with `MDB_RDONLY`.
    public let readOnly: Bool
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>
    private var tables: [String: LMDBTable] = [:]  // guarded by tablesLock
    /// The tables in the order they were opened: a reopened environment opens them again in
    /// this order, which gives them the same handles (LMDB numbers handles in opening order).
    private var tableOrder: [(name: String, flags: UInt32)] = []  // guarded by tablesLock
    private let tablesLock = NSLock()
    private let maxTables: UInt32
    private let maxReaders: UInt32
    /// The pool that bounds the open environments, which may park this one (nil: never parked).
    let pool: LMDBEnvironmentPool?
    /// True while parked by the pool: closed, reopened by the next transaction. Guarded by resizeLock.
    private var parked = false
    /// `info()` of the environment when it was parked (a parked file does not change).
    private var parkedInfo: (mapSize: Int, usedBytes: Int, pageSize: Int) = (0, 0, 0)  // guarded by resizeLock
    /// The pool's clock at the last transaction.
    private let lastUseClock = Atomic<UInt64>(0)
    var lastUse: UInt64 { lastUseClock.load(ordering: .relaxed) }
    /// Never parked again (its file was removed: a reopen would not find it).
    private let pinned = Atomic<Bool>(false)
    /// A commit without sync happened since the last sync (a park syncs first).
    private let unsynced = Atomic<Bool>(false)
    /// A descriptor of the lock file kept open after `replaceFile` (closing any descriptor of
    /// a file drops every `fcntl` lock the process holds on it, LMDB's own included); closed
    /// after the environment. Guarded by resizeLock.
    private var heldLockFile: Int32 = -1

    /// Opens (creating when writable and missing) the environment at `path`.
    ///
    /// - Parameters:
    ///   - path: the `.mdb` file; its lock file is `path + "-lock"`.
    ///   - mapSize: initial map size in bytes; it grows on demand for writers.
    ///   - maxTables: how many named tables the environment may hold.
    ///   - readOnly: open with `MDB_RDONLY` (no table is created).
    ///   - maxReaders: read transactions open at once, all processes together (the lock file
    ///     holds a 64-byte slot for each; an existing bigger lock file is used as it is). A read
    ///     that finds every slot taken waits for one.
    ///   - pool: bounds the environments open at once; it may park this one while no
    ///     transaction uses it (the next one reopens it).
    public init(
        path: String, mapSize: Int, maxTables: UInt32 = 16, readOnly: Bool = false, maxReaders: UInt32 = 1024,
        pool: LMDBEnvironmentPool? = nil
    ) throws {
        self.path = path
        self.readOnly = readOnly
        self.maxTables = maxTables
        self.maxReaders = maxReaders
        self.pool = pool
        resizeLock = .allocate(capacity: 1)
        pthread_rwlock_init(resizeLock, nil)
        // Every stored property is initialized here, so `deinit` runs after a throw and frees
        // `resizeLock` (freeing it here too was a use after free: `deinit` locks it).
        let handle = try Self.openHandle(path: path, mapSize: mapSize, maxTables: maxTables, maxReaders: maxReaders, readOnly: readOnly)
        env = handle
        // A file bigger than our requested map (written by an earlier, grown run) is adopted.
        _ = mdb_env_set_mapsize(handle, 0)
        if let pool {
            lastUseClock.store(pool.tick(), ordering: .relaxed)
            pool.register(self)
            pool.trim(after: self)
        }
    }

    private static func openHandle(path: String, mapSize: Int, maxTables: UInt32, maxReaders: UInt32, readOnly: Bool) throws -> OpaquePointer {
        var handle: OpaquePointer?
        do {
            try lmdbCheck(mdb_env_create(&handle), "mdb_env_create")
            try lmdbCheck(mdb_env_set_maxdbs(handle, maxTables), "mdb_env_set_maxdbs")
            try lmdbCheck(mdb_env_set_maxreaders(handle, maxReaders), "mdb_env_set_maxreaders")
            try lmdbCheck(mdb_env_set_mapsize(handle, mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOSUBDIR | MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try lmdbCheck(mdb_env_open(handle, path, flags, 0o644), "mdb_env_open(\(path))")
        } catch {
            if let handle { mdb_env_close(handle) }
            throw error
        }
        return handle!
    }

    /// Takes `resizeLock` shared with the environment open, reopening it when parked; the
    /// caller unlocks. Throws when it was closed.
    private func lockOpen(_ operation: String) throws -> OpaquePointer {
        while true {
            pthread_rwlock_rdlock(resizeLock)
            if let env {
                if let pool { lastUseClock.store(pool.tick(), ordering: .relaxed) }
                return env
            }
            let reopenable = parked
            pthread_rwlock_unlock(resizeLock)
            guard reopenable else { throw LMDBError(code: EINVAL, operation: "\(operation) on closed \(path)") }
            try reopen()
        }
    }

    /// Releases the lock `lockOpen` took at the end of a transaction, and lets the pool park
    /// environments left open past its bound while they were in use.
    @inline(__always)
    private func endTransaction() {
        pthread_rwlock_unlock(resizeLock)
        pool?.transactionEnded()
    }

    /// Opens a parked environment again, with its tables under the same handles.
    private func reopen() throws {
        pthread_rwlock_wrlock(resizeLock)
        var reopened = false
        defer {
            if reopened, let pool, !pinned.load(ordering: .relaxed) { pool.register(self) }
            pthread_rwlock_unlock(resizeLock)
            if reopened { pool?.trim(after: self) }
        }
        guard env == nil, parked else { return }
        // A writable open would create a missing file: a removed one stays closed.
        guard access(path, F_OK) == 0 else { throw LMDBError(code: ENOENT, operation: "reopen of \(path) (the file is gone)") }
        env = try openWithTables(mapSize: parkedInfo.mapSize)
        parked = false
        reopened = true
        if let pool { lastUseClock.store(pool.tick(), ordering: .relaxed) }
    }

    /// Opens the file at `path` with the tables opened so far under the same handles.
    /// Called with resizeLock held exclusively.
    private func openWithTables(mapSize: Int) throws -> OpaquePointer {
        let handle = try Self.openHandle(path: path, mapSize: mapSize, maxTables: maxTables, maxReaders: maxReaders, readOnly: readOnly)
        _ = mdb_env_set_mapsize(handle, 0)
        tablesLock.lock()
        let order = tableOrder
        tablesLock.unlock()
        do {
            var txn: OpaquePointer?
            try lmdbCheck(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(read, \(path))")
            do {
                let transaction = LMDBTransaction(txn: txn!, path: path)
                for (name, flags) in order {
                    let table = try transaction.openTable(name, flags: flags)
                    tablesLock.lock()
                    let expected = tables[name]?.dbi
                    tablesLock.unlock()
                    guard table.dbi == expected else {
                        throw LMDBError(code: EINVAL, operation: "reopen of \(path): table \(name) got another handle")
                    }
                }
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit(\(path))")
        } catch {
            mdb_env_close(handle)
            throw error
        }
        return handle
    }

    /// Puts the complete, synced environment file `replacement` in place of this one's file and
    /// goes on with it under the same table handles: false (nothing changed, `replacement` left
    /// where it is) when another process has the environment open.
    ///
    /// Waits for this process's transactions to end and closes the environment, then takes
    /// the exclusive `fcntl` lock LMDB's first opener takes on the lock file (a process with
    /// the environment open holds it shared: then the old file stays). Holding it, the file is
    /// renamed into place, the lock file emptied and the environment opened again: as first
    /// opener LMDB sizes the lock file for `maxReaders` and sets it up for the new file before
    /// sharing the lock, so a process that started opening meanwhile (it waits for the shared
    /// lock) reads the new file with a lock file that describes it. The descriptor used for
    /// the exclusive lock stays open until `close()` (closing it would drop LMDB's locks).
    /// A crash leaves the old or the new file, each complete (`rename`); the lock file is set
    /// up afresh by the next first opener.
    public func replaceFile(with replacement: String) throws -> Bool {
        pthread_rwlock_wrlock(resizeLock)
        // A parked environment (closed by the pool) is opened first: closed, it would be
        // opened again on the old file's lock file by its next transaction.
        while env == nil && parked {
            pthread_rwlock_unlock(resizeLock)
            try reopen()
            pthread_rwlock_wrlock(resizeLock)
        }
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let current = env, !readOnly else { throw LMDBError(code: EINVAL, operation: "replace the file of closed or read-only \(path)") }
        let mapSize = Self.info(of: current).mapSize
        mdb_env_close(current)
        env = nil
        if heldLockFile >= 0 {
            Glibc.close(heldLockFile)
            heldLockFile = -1
        }
        let lockPath = path + "-lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        var exclusive = false
        if fd >= 0 {
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            lock.l_start = 0
            lock.l_len = 1
            exclusive = fcntl(fd, F_SETLK, &lock) == 0
            // Closed before LMDB opens the file again: it then holds no lock of this process.
            if !exclusive { Glibc.close(fd) }
        }
        var replaced = false
        if exclusive && rename(replacement, path) == 0 {
            replaced = true
            syncDirectory((path as NSString).deletingLastPathComponent)
            _ = ftruncate(fd, 0)
        }
        do {
            env = try openWithTables(mapSize: mapSize)
        } catch {
            if exclusive { Glibc.close(fd) }
            throw error
        }
        if exclusive { heldLockFile = fd }
        return replaced
    }

    /// Closes the environment when no transaction uses it (the pool's eviction): true when it
    /// was parked. Unsynced commits are synced first.
    func parkIfIdle() -> Bool {
        guard pthread_rwlock_trywrlock(resizeLock) == 0 else { return false }
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let env, !pinned.load(ordering: .relaxed) else { return false }
        if !readOnly && unsynced.exchange(false, ordering: .relaxed) {
            guard mdb_env_sync(env, 1) == 0 else {
                unsynced.store(true, ordering: .relaxed)
                return false
            }
        }
        parkedInfo = Self.info(of: env)
        mdb_env_close(env)
        self.env = nil
        parked = true
        pool?.didClose(ObjectIdentifier(self))
        return true
    }

    /// Keeps the environment open until it is closed (its file is about to be removed, and
    /// whoever still holds the environment must go on reading it).
    func pin() {
        pinned.store(true, ordering: .relaxed)
        if let env = try? lockOpen("pin") {
            _ = env
            pthread_rwlock_unlock(resizeLock)
        }
        pool?.didClose(ObjectIdentifier(self))
    }

    /// True while the environment is parked (closed until its next transaction).
    public var isParked: Bool {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        return parked
    }

    deinit {
        close()
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
    }

    /// Closes the environment. No transaction may be open; later calls throw.
    public func close() {
        pthread_rwlock_wrlock(resizeLock)
        if let env {
            mdb_env_close(env)
            self.env = nil
        }
        if heldLockFile >= 0 {
            Glibc.close(heldLockFile)
            heldLockFile = -1
        }
        parked = false
        pthread_rwlock_unlock(resizeLock)
        pool?.didClose(ObjectIdentifier(self))
    }

    /// Opens (creating it in a writable environment, unless `create` is false) the named table.
    public func table(_ name: String, flags: Int32 = 0, create: Bool = true) throws -> LMDBTable {
        tablesLock.lock()
        if let table = tables[name] {
            tablesLock.unlock()
            return table
        }
        tablesLock.unlock()
        let table: LMDBTable
        if readOnly || !create {
            table = try openTableReadOnly(name, flags: UInt32(flags))
        } else {
            table = try write { txn in try txn.openTable(name, flags: UInt32(flags | MDB_CREATE)) }
        }
        tablesLock.lock()
        if tables[name] == nil {
            tables[name] = table
            tableOrder.append((name, UInt32(flags) & ~UInt32(MDB_CREATE)))
        }
        tablesLock.unlock()
        return table
    }

    /// The named table when the file has it (never created), else nil.
    public func existingTable(_ name: String) throws -> LMDBTable? {
        do {
            return try table(name, create: false)
        } catch let error as LMDBError where error.code == MDB_NOTFOUND {
            return nil
        }
    }

    /// A handle opened in a read-only transaction survives only if that transaction commits.
    private func openTableReadOnly(_ name: String, flags: UInt32) throws -> LMDBTable {
        let env = try lockOpen("open table")
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(read, \(path))")
        let table: LMDBTable
        do {
            table = try LMDBTransaction(txn: txn!, path: path).openTable(name, flags: flags)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit(\(path))")
        return table
    }

    /// Runs `body` in a read-only transaction, which is aborted (released) when it returns.
    ///
    /// Bytes borrowed from the transaction must be copied before `body` returns.
    public func read<T>(_ body: (borrowing LMDBTransaction) throws -> T) throws -> T {
        var waitedForSlot = 0
        while true {
            let env = try lockOpen("read")
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
            if rc == MDB_MAP_RESIZED {
                // Another process grew the file; adopt its size (needs the exclusive lock).
                pthread_rwlock_unlock(resizeLock)
                adoptResizedMap()
                continue
            }
            if rc == MDB_READERS_FULL && waitedForSlot < 60_000 {
                // Every reader slot is taken: reads are bounded by their deadline, one frees soon.
                waitedForSlot += 1
                pthread_rwlock_unlock(resizeLock)
                usleep(1000)
                continue
            }
            defer { endTransaction() }
            try lmdbCheck(rc, "mdb_txn_begin(read, \(path))")
            let transaction = LMDBTransaction(txn: txn!, path: path)
            defer { mdb_txn_abort(txn) }
            return try body(transaction)
        }
    }

    /// Runs `body` in a write transaction: committed (and synced to disk) when `body` returns,
    /// aborted when it throws. On `MDB_MAP_FULL` the map is doubled and `body` runs again, so
    /// `body` must only depend on its inputs and the transaction.
    ///
    /// `sync: false` commits without flushing (`MDB_NOSYNC` for this transaction): the commit
    /// is in the operating system's page cache when this returns, so it survives the process
    /// being killed but not a power loss until `sync()` runs.
    public func write<T>(sync: Bool = true, _ body: (borrowing LMDBTransaction) throws -> T) throws -> T {
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try writeOnce(flags: sync ? 0 : UInt32(MDB_NOSYNC), body)
            } catch let error as LMDBError where error.isMapFull && attempts < 40 {
                grow()
            } catch let error as LMDBError where error.isMapResized && attempts < 40 {
                adoptResizedMap()
            }
        }
    }

    private func writeOnce<T>(flags: UInt32, _ body: (borrowing LMDBTransaction) throws -> T) throws -> T {
        let env = try lockOpen("write")
        defer { endTransaction() }
        // LMDB 0.9 decides whether a commit syncs from the environment's flags, not the
        // transaction's (`mdb_env_sync(env, 0)` in `mdb_txn_commit`): `MDB_NOSYNC` is set for
        // this transaction only. Only the writer thread writes, so nothing else sees it set.
        let noSync = flags & UInt32(MDB_NOSYNC) != 0
        if noSync { mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 1) }
        defer { if noSync { mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 0) } }
        var txn: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(env, nil, flags, &txn), "mdb_txn_begin(write, \(path))")
        let transaction = LMDBTransaction(txn: txn!, path: path)
        let result: T
        do {
            result = try body(transaction)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit(\(path))")
        if flags & UInt32(MDB_NOSYNC) != 0 { unsynced.store(true, ordering: .relaxed) }
        return result
    }

    /// Current map size in bytes.
    public var mapSize: Int {
        info().mapSize
    }

    /// Map size, last used page and page size.
    public func info() -> (mapSize: Int, usedBytes: Int, pageSize: Int) {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let env else { return parked ? parkedInfo : (0, 0, 0) }
        return Self.info(of: env)
    }

    private static func info(of env: OpaquePointer) -> (mapSize: Int, usedBytes: Int, pageSize: Int) {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        let pageSize = Int(stat.ms_psize)
        return (info.me_mapsize, (info.me_last_pgno + 1) * pageSize, pageSize)
    }

    /// Drops this process's mappings of the file's pages (`MADV_DONTNEED` over the read-only
    /// map): the pages stay in the kernel's page cache and the next read maps them again (a
    /// minor fault), but they no longer count in the process's resident set until then. LMDB
    /// reads go through the map, so without this the RSS of a long-running server grows to the
    /// size of everything it ever read (1.3 GB after sealing 3M lines), which looks like memory
    /// the server holds. Safe while readers run: their pages are immutable and re-fault.
    /// Not done for `MDB_WRITEMAP` maps (this project never uses them). `mappings` locates
    /// the map (by the file's inode).
    public func releaseMappedPages(in mappings: FileMappings) {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard env != nil else { return }
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        for range in mappings.ranges[UInt64(st.st_ino)] ?? [] {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: range.start), Int(range.end - range.start), MADV_DONTNEED)
        }
    }

    /// The file mappings of this process (`/proc/self/maps`), by inode: LMDB does not tell
    /// where it mapped a file unless the map is fixed.
    public struct FileMappings: Sendable {
        public var ranges: [UInt64: [(start: UInt, end: UInt)]] = [:]

        /// Reads `/proc/self/maps` (empty elsewhere than Linux).
        public static func current() -> FileMappings {
            var result = FileMappings()
            guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else { return result }
            defer { try? handle.close() }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            for row in text.split(separator: "\n") {
                // address perms offset dev inode path
                let fields = row.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard fields.count >= 5, let inode = UInt64(fields[4]), inode != 0 else { continue }
                let bounds = fields[0].split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start
                else { continue }
                result.ranges[inode, default: []].append((start, end))
            }
            return result
        }
    }

    /// Doubles the map (up to 1 TiB steps of at most 8 GiB). Exclusive: waits for readers.
    public func grow() {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let env else { return }
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        let current = info.me_mapsize
        let next = current + min(max(current, 1 << 20), 8 << 30)
        _ = mdb_env_set_mapsize(env, next)
    }

    /// Grows the map, when needed, so that at least `fraction` of it stays free.
    public func ensureHeadroom(fraction: Double = 0.5) {
        let (size, used, _) = info()
        if size > 0, Double(used) > Double(size) * (1 - fraction) { grow() }
    }

    private func adoptResizedMap() {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        if let env { _ = mdb_env_set_mapsize(env, 0) }
    }

    /// Writes a consistent copy of the environment, as of one read transaction, to the new file
    /// `destination` (`mdb_env_copy2` with `MDB_CP_COMPACT`: free pages left out, no writer
    /// blocked; the file must not exist). LMDB writes it with `O_DIRECT` where the file system
    /// has it and does not sync it: `fsync` it before relying on it.
    /// Another process's writer may have grown the map since this one was opened: the copy's
    /// read transaction then fails with `MDB_MAP_RESIZED`, and runs again on the adopted size.
    public func copyCompacted(to destination: String) throws {
        for attempt in 0..<2 {
            let env = try lockOpen("copy")
            let rc = mdb_env_copy2(env, destination, UInt32(MDB_CP_COMPACT))
            pthread_rwlock_unlock(resizeLock)
            if rc == MDB_MAP_RESIZED && attempt == 0 {
                unlink(destination)  // the failed attempt created it
                adoptResizedMap()
                continue
            }
            try lmdbCheck(rc, "mdb_env_copy2(\(destination))")
            return
        }
    }

    /// Flushes buffers to disk (needed only for environments opened without sync).
    /// The environment's flags (`mdb_env_get_flags`); nil when it is parked.
    var environmentFlags: UInt32? {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let env else { return nil }
        var flags: UInt32 = 0
        mdb_env_get_flags(env, &flags)
        return flags
    }

    public func sync() throws {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard let env else { return }  // a parked environment was synced when parked
        unsynced.store(false, ordering: .relaxed)
        try lmdbCheck(mdb_env_sync(env, 1), "mdb_env_sync(\(path))")
    }
}
