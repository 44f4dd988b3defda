import NIOCore

/// EventLoopExecutor runs a task's jobs on one SwiftNIO event loop. A connection is handled
/// with it as the task executor preference (`GuardedHTTP1Channel`), so reading a request's
/// parts and writing its answer stay on the loop that does the connection's I/O instead of
/// waking a thread of the cooperative pool and then the loop again for every request: on
/// FluentBit's small ingest requests those wake-ups were most of the server's CPU.
/// `LoopOrPool` sends every other request to the pool, so CPU-heavy work stays off the loop.
final class EventLoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
