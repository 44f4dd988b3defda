import Foundation

/// A copy of a data directory that a running server keeps writing to: every day segment and
/// then the catalog, each as one LMDB read transaction sees it (`mdb_env_copy2`, compacted),
/// into a new directory that is itself a data directory (`serve --data-dir` it, or move it in
/// place of the original to restore).
///
/// Every line acknowledged before the backup starts is in it: its segment is copied later, from
/// a snapshot that holds it. Lines acknowledged while it runs may be in it or not, the same
/// way as after a crash, and `Storage.open` reconciles the catalog with the segments (they are
/// the source of truth) as it does after one. The files are written under `<to>.partial`,
/// synced, and renamed to `to` only when all of them are complete.
public enum Backup {
    /// What one file of the backup is at, for progress lines.
    public struct Progress: Sendable {
        /// The file's path relative to the data directory, e.g. `segments/2026-11-22.mdb`.
        public var name: String
        /// 1-based position of the file, and how many there are.
        public var index: Int
        public var count: Int
        /// Bytes of the copy written so far, and the source file's size.
        public var copiedBytes: Int64
        public var sourceBytes: Int64
        /// True once this file is complete and synced.
        public var done: Bool
    }

    /// What a finished backup holds.
    public struct Report: Sendable, Equatable {
        /// Files copied (segments, then the catalog), relative to the data directory.
        public var files: [String]
        /// Sizes of the source files and of their copies (free pages left out).
        public var sourceBytes: Int64
        public var backupBytes: Int64
        /// Segments listed at the start that retention removed before they could be copied.
        public var vanished: [String]
    }

    /// Copies the data directory `directory` to the new directory `to` (which must not exist).
    /// `progress` is called from the copying thread about four times a second per file and
    /// once when each file is done.
    public static func run(
        directory: String, to destination: String, progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) throws -> Report {
        let fm = FileManager.default
        let source = URL(fileURLWithPath: directory).standardizedFileURL.path
        let target = URL(fileURLWithPath: destination).standardizedFileURL.path
        guard fm.fileExists(atPath: source + "/" + Keys.catalogFile) else {
            throw StorageError.io("no logstore data in \(directory) (missing \(Keys.catalogFile))")
        }
        guard target != source, !target.hasPrefix(source + "/") else {
            throw StorageError.io("the backup \(destination) must be outside the data directory \(directory)")
        }
        guard !fm.fileExists(atPath: target) else {
            throw StorageError.io("\(destination) already exists; a backup goes into a new directory")
        }
        let partial = target + ".partial"
        if fm.fileExists(atPath: partial) {
            throw StorageError.io("\(partial) exists (an interrupted backup?); remove it first")
        }
        do {
            try fm.createDirectory(atPath: partial + "/" + Keys.segmentsDirectory, withIntermediateDirectories: true)
        } catch {
            throw StorageError.io("cannot create \(partial): \(error.localizedDescription)")
        }
        do {
            return try copyAll(source: source, partial: partial, target: target, destination: destination, progress: progress)
        } catch {
            try? fm.removeItem(atPath: partial)  // a failed backup leaves nothing that looks like one
            throw error
        }
    }

    private static func copyAll(
        source: String, partial: String, target: String, destination: String, progress: @escaping @Sendable (Progress) -> Void
    ) throws -> Report {
        let fm = FileManager.default

        // The newest generation of each day, as `Storage.open` would pick it.
        let segmentsDirectory = source + "/" + Keys.segmentsDirectory
        func listNewest() -> [Int32: Int] { Segment.newestGenerations((try? fm.contentsOfDirectory(atPath: segmentsDirectory)) ?? []) }
        let newest = listNewest()
        let days = newest.keys.sorted()
        let count = days.count + 1
        var report = Report(files: [], sourceBytes: 0, backupBytes: 0, vanished: [])

        for (i, day) in days.enumerated() {
            // A compaction may replace the file meanwhile (a newer generation, the older one
            // removed): look again once before calling the day gone.
            var copied = false
            for attempt in 0..<2 where !copied {
                guard let generation = attempt == 0 ? newest[day] : listNewest()[day] else { break }
                let name = Segment.fileName(day: day, generation: generation)
                let env: LMDBEnvironment
                do {
                    env = try LMDBEnvironment(path: segmentsDirectory + "/" + name, mapSize: Limits.segmentMapSize, readOnly: true, maxReaders: Segment.readers(generation: generation))
                } catch let error as LMDBError where error.code == ENOENT {
                    continue
                }
                defer { env.close() }
                let relative = Keys.segmentsDirectory + "/" + name
                try copy(env, from: segmentsDirectory + "/" + name, to: partial + "/" + relative, name: relative, index: i + 1, count: count, into: &report, progress: progress)
                copied = true
            }
            if !copied { report.vanished.append(Segment.fileName(day: day, generation: newest[day]!)) }
        }

        // The catalog last: it then names at least every stream of the copied segments that it
        // named when they were copied (`Storage.open` adds any it lacks from the segments), and
        // holds every workflow deletion (tombstone) made before the backup started.
        let catalog = try LMDBEnvironment(path: source + "/" + Keys.catalogFile, mapSize: Limits.catalogMapSize, readOnly: true)
        defer { catalog.close() }
        try copy(catalog, from: source + "/" + Keys.catalogFile, to: partial + "/" + Keys.catalogFile, name: Keys.catalogFile, index: count, count: count, into: &report, progress: progress)

        try syncFile(partial + "/" + Keys.segmentsDirectory)
        try syncFile(partial)
        do {
            try fm.moveItem(atPath: partial, toPath: target)
        } catch {
            throw StorageError.io("cannot rename \(partial) to \(destination): \(error.localizedDescription)")
        }
        try syncFile((target as NSString).deletingLastPathComponent)
        return report
    }

    /// Copies one environment, reporting the copy's size from a second thread while LMDB
    /// writes it, then syncs it.
    private static func copy(
        _ env: LMDBEnvironment, from sourcePath: String, to path: String, name: String, index: Int, count: Int,
        into report: inout Report, progress: @escaping @Sendable (Progress) -> Void
    ) throws {
        let sourceBytes = fileSize(sourcePath)
        let finished = StopFlag()
        let watcherDone = DispatchSemaphore(value: 0)
        let watcher = Thread {
            while !finished.load() {
                progress(Progress(name: name, index: index, count: count, copiedBytes: fileSize(path), sourceBytes: sourceBytes, done: false))
                for _ in 0..<25 where !finished.load() { usleep(10_000) }
            }
            watcherDone.signal()
        }
        watcher.start()
        let result = Result { try env.copyCompacted(to: path) }
        finished.store(true)
        watcherDone.wait()
        if case .failure(let error) = result { throw StorageError.io("cannot copy \(name): \(error)") }
        try syncFile(path)
        let copied = fileSize(path)
        report.files.append(name)
        report.sourceBytes += sourceBytes
        report.backupBytes += copied
        progress(Progress(name: name, index: index, count: count, copiedBytes: copied, sourceBytes: sourceBytes, done: true))
    }

    private static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

}

/// A flag shared by the copying thread and its progress watcher.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func load() -> Bool { lock.withLock { value } }
    func store(_ new: Bool) { lock.withLock { value = new } }
}
