import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import NIOCore
import ServiceLifecycle

/// Limits of `/v1/tail`.
public struct TailOptions: Sendable {
    /// At most this many requests wait at once; more are answered 503 (`--max-tail-waiters`).
    public var maxWaiters = 10_000
    /// How long a request waits when it gives no `wait`.
    public var defaultWait: Duration = .seconds(25)
    /// The largest `wait` accepted, in seconds.
    public var maxWaitSeconds = 60.0

    public init() {}
}
