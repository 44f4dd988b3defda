import NIOCore
import Synchronization

/// The `ConnectionState` of every open connection, by channel: a request finds its own without
/// a hop to the channel's event loop.
final class ConnectionRegistry: Sendable {
    private let states = Mutex<[ObjectIdentifier: ConnectionState]>([:])

    func add(_ channel: any Channel, _ state: ConnectionState) {
        states.withLock { $0[ObjectIdentifier(channel)] = state }
    }

    func remove(_ channel: any Channel) {
        _ = states.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The state of `channel`'s connection; nil when it has none (no watcher, e.g. a test
    /// router). A connection already closed has a closed state.
    func state(of channel: any Channel) -> ConnectionState? {
        if let state = states.withLock({ $0[ObjectIdentifier(channel)] }) { return state }
        guard !channel.isActive else { return nil }
        let closed = ConnectionState()
        closed.close()
        return closed
    }

    var count: Int { states.withLock { $0.count } }
}
