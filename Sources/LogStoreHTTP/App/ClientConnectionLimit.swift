import NIOCore
import Synchronization

/// ClientConnectionLimit counts the open connections of each client address (IP, without
/// the port) for `ConnectionOptions.maxConnectionsPerClient`.
final class ClientConnectionLimit: Sendable {
    let maxPerClient: Int
    private let counts = Mutex<[String: Int]>([:])

    init(maxPerClient: Int) {
        self.maxPerClient = maxPerClient
    }

    /// ClientConnectionLimit.admit counts a new connection of `channel`'s client and returns
    /// nil, or returns the client's address when it already holds `maxPerClient` (not counted).
    /// A counted connection is uncounted when it closes.
    func admit(_ channel: any Channel) -> String? {
        guard maxPerClient > 0, let address = channel.remoteAddress?.ipAddress else { return nil }
        let admitted = counts.withLock { counts -> Bool in
            let open = counts[address, default: 0]
            guard open < maxPerClient else { return false }
            counts[address] = open + 1
            return true
        }
        guard admitted else { return address }
        channel.closeFuture.whenComplete { [self] _ in
            counts.withLock { counts in
                let left = counts[address, default: 1] - 1
                counts[address] = left > 0 ? left : nil
            }
        }
        return nil
    }

    /// Open connections of `address` (for tests).
    func open(_ address: String) -> Int { counts.withLock { $0[address, default: 0] } }
}
