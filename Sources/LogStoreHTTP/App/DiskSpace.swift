#if canImport(Glibc)
import Glibc
#endif

/// Free bytes available to unprivileged writers on the file system holding `path`, or nil.
func freeDiskBytes(_ path: String) -> UInt64? {
    var stat = statvfs()
    guard statvfs(path, &stat) == 0 else { return nil }
    return UInt64(stat.f_bavail) * UInt64(stat.f_frsize)
}
