import CShims
import Foundation

extension Process {
    /// `run()` with readdir's buffer in a mapping of its own: Foundation copies the whole 256-byte
    /// name of each `/proc/self/fd` entry, reading past the buffer's end, which crashes when the
    /// buffer ends a heap mapping (seen once the test process holds ~1,350 descriptors or more).
    public func runGuarded() throws {
        logstore_set_mmap_threshold(16 << 10)
        try run()
    }
}
