import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Bytes on disk as `du -sb` counts them: the apparent size of every file and directory,
/// LMDB's `-lock` files included. What `stats` and the compaction report show.
enum DiskUsage {
    /// The size of one file (0 when it does not exist).
    static func file(_ path: String) -> Int {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The sizes of `path` and, when it is a directory, of everything below it.
    static func tree(_ path: String) -> Int {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        var total = Int(st.st_size)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { total += tree(path + "/" + name) }
        }
        return total
    }
}
