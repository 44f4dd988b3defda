import Foundation
import Synchronization

/// `body(0) … body(count − 1)` on every core, in an array in that order (one item runs on the
/// calling thread); the first error any of them throws is rethrown once all have run. `body`
/// must be safe to call concurrently.
public func concurrentMap<T, E: Error>(_ count: Int, _ body: (Int) throws(E) -> T) throws(E) -> [T] {
    guard count > 1 else { return count == 1 ? [try body(0)] : [] }
    let output = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    output.initialize(repeating: nil)
    defer {
        output.deinitialize()
        output.deallocate()
    }
    nonisolated(unsafe) let out = output
    let failed = Mutex<E?>(nil)
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: count) { i in
            do throws(E) {
                out[i] = try work(i)
            } catch {
                failed.withLock { $0 = $0 ?? error }
            }
        }
    }
    if let error = failed.withLock({ $0 }) { throw error }
    return output.map { $0! }
}
