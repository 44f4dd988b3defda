import NIOCore
import Synchronization

/// EventLoopExecutor runs a task's jobs on one SwiftNIO event loop. A connection is handled
/// with its loop's executor as the task executor preference (`GuardedHTTP1Channel`), so
/// reading a request's parts and writing its answer stay on the loop that does the
/// connection's I/O instead of waking a thread of the cooperative pool and then the loop again
/// for every request: on FluentBit's small ingest requests those wake-ups were most of the
/// server's CPU. `LoopOrPool` sends every other request to the pool, so CPU-heavy work stays
/// off the loop.
///
/// One executor per loop (`for(_:)`). Jobs enqueued from other threads — the writer thread
/// resuming the requests of a commit — are queued here and run by one task on the loop: a
/// commit of many requests wakes each loop once, not once per request.
final class EventLoopExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop
    private let foreign = Mutex(Foreign())

    private struct Foreign {
        var jobs: [UnownedJob] = []
        var drainScheduled = false
    }

    private init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    private static let executors = Mutex([ObjectIdentifier: EventLoopExecutor]())

    /// The executor of `eventLoop` (made on first use; loops live as long as the server).
    static func `for`(_ eventLoop: any EventLoop) -> EventLoopExecutor {
        executors.withLock { all in
            if let known = all[ObjectIdentifier(eventLoop)] { return known }
            let made = EventLoopExecutor(eventLoop)
            all[ObjectIdentifier(eventLoop)] = made
            return made
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if eventLoop.inEventLoop {
            eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
            return
        }
        let schedule = foreign.withLock { state in
            state.jobs.append(job)
            if state.drainScheduled { return false }
            state.drainScheduled = true
            return true
        }
        if schedule { eventLoop.execute { self.drainForeignJobs() } }
    }

    private func drainForeignJobs() {
        let jobs = foreign.withLock { state in
            let jobs = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            state.drainScheduled = false
            return jobs
        }
        for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}
