import Prometheus

/// AuthMetrics counts what the door refused, in the server's registry (`GET /metrics`):
/// `logstore_auth_failed_logins_total` (wrong name, password or key, or an unreadable
/// header), `logstore_auth_throttled_requests_total` (refused while the address was
/// blocked), `logstore_auth_missing_credentials_total` and `logstore_auth_forbidden_requests_total`.
struct AuthMetrics: Sendable {
    let failedLogins: Counter
    let throttled: Counter
    let missing: Counter
    let forbidden: Counter

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "logstore", subsystem: "auth", metricName: name, unitName: "total", helpText: help))
        }
        failedLogins = counter("failed_logins", "Requests with a wrong user name, password or API key, or an unreadable Authorization header.")
        throttled = counter("throttled_requests", "Requests refused (429) because their address failed to log in too often.")
        missing = counter("missing_credentials", "Requests refused (401) for carrying no Authorization header.")
        forbidden = counter("forbidden_requests", "Requests refused (403) because the user's roles do not allow them.")
    }
}
