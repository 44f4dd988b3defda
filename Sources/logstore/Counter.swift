import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import Synchronization

/// Counts progress callbacks (they may come from another thread).
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
