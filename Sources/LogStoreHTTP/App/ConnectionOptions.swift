/// ConnectionOptions bounds what one client connection may hold, so slow or idle clients cannot
/// starve the server of sockets and file descriptors (docs/RELIABILITY.md, "Connections").
public struct ConnectionOptions: Sendable {
    /// A connection with no request in progress is closed after this much silence: between
    /// keep-alive requests, and before a request's head is complete. A request being answered
    /// (a `/v1/tail` long poll waiting for lines) is never cut by it.
    public var idleTimeout: Duration = .seconds(60)
    /// A request's head (request line and headers) must be complete this long after its first
    /// byte arrived; otherwise the server answers 408 and closes the connection (slowloris).
    public var headerTimeout: Duration = .seconds(10)
    /// At most this many connections are open at once; past it the server stops accepting and
    /// new connections wait in the kernel's backlog until one closes. Above the default
    /// `--max-tail-waiters` (10,000), since every tail follower holds a connection.
    public var maxConnections = 10_240
    /// A request's body must be complete this long after its head; otherwise the server
    /// answers 408 and closes the connection (a body trickled a byte at a time). 0: no limit.
    public var bodyTimeout: Duration = .seconds(120)
    /// At most this many open connections from one client address (IP); more are answered
    /// 429 and closed. 0: no limit beyond `maxConnections` (clients behind one NAT or proxy
    /// share an address).
    public var maxConnectionsPerClient = 0
    /// After an error answer to a request whose body was not read, or a refusal, the server
    /// stops sending, reads and drops what the client still sends until it has been silent
    /// this long (at most 30 s in all), then closes: the client reads the answer instead of a
    /// connection reset.
    public var lingerTimeout: Duration = .seconds(5)

    public init() {}
}
