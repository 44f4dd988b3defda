import Logging

/// LoginDoor is what every way of logging in (HTTP Basic or a bearer key on any route, the web
/// viewer's login form) does around the password check: refuse an address that is blocked
/// (429, counted), and for a failure count it in `logstore_auth_failed_logins_total`, log it
/// with the client address and the name tried, and let `LoginThrottle` slow the address down.
struct LoginDoor: Sendable {
    let throttle: LoginThrottle
    let metrics: AuthMetrics
    let logger: Logger

    init(throttle: LoginThrottle, metrics: ServerMetrics, logger: Logger) {
        self.throttle = throttle
        self.metrics = AuthMetrics(registry: metrics.registry)
        self.logger = logger
    }

    /// LoginDoor.checkNotBlocked throws the 429 answer (with `Retry-After`) while `address`
    /// is blocked.
    func checkNotBlocked(_ address: String) throws(OpenSearchError) {
        guard let wait = throttle.blocked(address) else { return }
        metrics.throttled.increment()
        let seconds = wait.components.seconds + 1
        var error = OpenSearchError(.tooManyRequests, type: "security_exception", reason: "too many failed logins from \(address); retry in \(seconds) s")
        error.headers[.retryAfter] = "\(seconds)"
        throw error
    }

    /// LoginDoor.failed records a failed login from `address` with the user name tried.
    func failed(address: String, name: String?, via: String) {
        metrics.failedLogins.increment()
        let block = throttle.failed(address)
        logger.warning(
            "failed login",
            metadata: ["client": "\(address)", "user": "\(name ?? "-")", "via": "\(via)", "blockedSeconds": "\(block?.components.seconds ?? 0)"])
    }

    /// LoginDoor.succeeded forgets the failures of `address`.
    func succeeded(_ address: String) { throttle.succeeded(address) }
}
