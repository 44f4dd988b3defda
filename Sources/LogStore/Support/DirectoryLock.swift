import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `DATA/LOCK`, held while one process writes a data directory.
final class DirectoryLock: Sendable {
    private let fd: Mutex<Int32>

    /// Takes the lock or throws `StorageError.locked` naming the owner written in the file.
    init(directory: String) throws {
        let path = directory + "/" + Keys.lockFile
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw StorageError.locked(path: directory, owner: owner.map { "pid \($0)" } ?? "unknown pid")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = Mutex(fd)
    }

    /// Releases the lock (idempotent).
    func release() {
        fd.withLock { fd in
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}

/// fsyncs a file written without syncs (LMDB's compacting copies) before it is relied on.
func syncFile(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw StorageError.io("cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw StorageError.io("fsync \(path): \(String(cString: strerror(errno)))") }
}

/// fsyncs a directory so that a file created in it survives a power loss.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}
