import NIOCore
import Synchronization

/// Whether a connection's client is gone, and what to do when it goes.
///
/// Hummingbird does not cancel a suspended handler when its client disconnects (the server
/// enables remote half-closure and reads the connection only between requests), so a long-poll
/// learns of it from `ConnectionWatcher`.
final class ConnectionState: Sendable {
    private struct State {
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Sets what runs when the client goes away; false (and nothing set) when it already went.
    func onClose(_ action: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            if s.closed { return false }
            s.onClose = action
            return true
        }
    }

    func clearOnClose() {
        state.withLock { $0.onClose = nil }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Marks the client gone and runs the action set, once.
    func close() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            s.closed = true
            defer { s.onClose = nil }
            return s.onClose
        }
        action?()
    }
}
