import ArgumentParser
import Foundation
import LogStoreHTTP
import Logging

/// SecurityFlags are `logstore serve`'s options for TLS, users and the URL prefix, each with
/// an environment-variable twin, and the refusal to serve a non-loopback address to anyone.
struct SecurityFlags: ParsableArguments {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Serve TLS with this PEM certificate chain (env LOGSTORE_TLS_CERT); reloaded on change and on SIGHUP.", valueName: "file"))
    var tlsCertOption: String?
    var tlsCert: String? { tlsCertOption ?? Self.env["LOGSTORE_TLS_CERT"] }

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key of --tls-cert (env LOGSTORE_TLS_KEY).", valueName: "file"))
    var tlsKeyOption: String?
    var tlsKey: String? { tlsKeyOption ?? Self.env["LOGSTORE_TLS_KEY"] }

    @Option(name: .customLong("tls-client-ca"), help: ArgumentHelp("Require client certificates signed by these PEM CAs (env LOGSTORE_TLS_CLIENT_CA).", valueName: "file"))
    var tlsClientCaOption: String?
    var tlsClientCa: String? { tlsClientCaOption ?? Self.env["LOGSTORE_TLS_CLIENT_CA"] }

    @Option(name: .customLong("users"), help: ArgumentHelp("Users file (`logstore user add`); every route but /health then needs a login (env LOGSTORE_USERS).", valueName: "file"))
    var usersOption: String?
    var users: String? { usersOption ?? Self.env["LOGSTORE_USERS"] }

    @Flag(help: "Serve a non-loopback address without users: anyone who reaches the port may read and delete logs (env LOGSTORE_ALLOW_ANONYMOUS=1).")
    var allowAnonymous = env["LOGSTORE_ALLOW_ANONYMOUS"] == "1"

    @Flag(help: "Answer GET /metrics without a login when users are configured (env LOGSTORE_OPEN_METRICS=1).")
    var openMetrics = env["LOGSTORE_OPEN_METRICS"] == "1"

    @Option(name: .customLong("path-prefix"), help: ArgumentHelp("Every route also answers under this prefix, e.g. /opensearch (env LOGSTORE_PATH_PREFIX).", valueName: "path"))
    var pathPrefixOption: String?
    var pathPrefix: String? { pathPrefixOption ?? Self.env["LOGSTORE_PATH_PREFIX"] }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsClientCa != nil && tlsCert == nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
    }

    /// SecurityFlags.isLoopback answers whether `host` is reachable only from this machine.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// SecurityFlags.options loads the users file and the TLS files for a server on `host`.
    ///
    /// - Throws: `ValidationError` when `host` is not loopback, no users are configured and
    ///   `--allow-anonymous` is not given, or a file does not load.
    func options(host: String, logger: Logger) throws -> SecurityOptions {
        var options = SecurityOptions()
        options.openMetrics = openMetrics
        options.pathPrefix = pathPrefix.flatMap(SecurityOptions.normalizedPrefix)
        do {
            if let users { options.users = try UserDirectory(path: users, logger: logger) }
            if let tlsCert, let tlsKey {
                options.tls = try TLSCertificateStore(certificatePath: tlsCert, keyPath: tlsKey, clientCAPath: tlsClientCa, logger: logger)
            }
        } catch {
            throw ValidationError("\(error)")
        }
        if (options.users?.count ?? 0) == 0 && !allowAnonymous && !Self.isLoopback(host) {
            throw ValidationError(
                """
                refusing to serve \(host) without users: anyone who reaches the port could read, write and delete logs.
                Add a user and pass the file:
                  logstore user add reana --role read --users /etc/logstore/users.json
                  logstore serve --users /etc/logstore/users.json …
                or listen on 127.0.0.1, or pass --allow-anonymous to serve everyone.
                """)
        }
        return options
    }
}
