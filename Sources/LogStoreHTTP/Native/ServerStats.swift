import Foundation
import Hummingbird
import LogStore

/// `/v1/stats`: the store's figures (as `logstore stats --json`) and the server's own.
struct ServerStats: Encodable {
    var store: StoreStats
    /// Tail requests waiting now.
    var tailWaiters: Int

    enum Keys: String, CodingKey { case tailWaiters }

    func encode(to encoder: any Encoder) throws {
        try store.encode(to: encoder)  // the same object, one more member
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(tailWaiters, forKey: .tailWaiters)
    }
}
