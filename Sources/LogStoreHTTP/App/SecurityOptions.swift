/// SecurityOptions is how the server guards its door: TLS, users, a URL prefix.
///
/// With no `users`, every route is open (what `logstore serve` allows only on a loopback
/// address unless `--allow-anonymous`).
public struct SecurityOptions: Sendable {
    /// The users and their roles; nil: no login asked.
    public var users: UserDirectory?
    /// The TLS certificate and key; nil: plain HTTP.
    public var tls: TLSCertificateStore?
    /// Every route also answers under this prefix (e.g. `/opensearch`); nil: none.
    public var pathPrefix: String?
    /// `/metrics` answers without a login even when users are configured.
    public var openMetrics = false
    /// Slows password guessing per client address.
    public var throttle = LoginThrottle()
    /// How often the users file and the TLS files are checked for changes.
    public var reloadInterval: Duration = .seconds(2)

    public init() {}

    /// SecurityOptions.normalizedPrefix turns `opensearch/`, `/opensearch` or `/opensearch/`
    /// into `/opensearch`; nil for an empty prefix or `/`.
    public static func normalizedPrefix(_ text: String) -> String? {
        let trimmed = text.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        return trimmed.isEmpty ? nil : "/" + trimmed
    }
}
