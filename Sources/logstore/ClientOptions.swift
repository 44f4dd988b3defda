import ArgumentParser
import Foundation
import NIOSSL

/// ClientOptions are the options of the commands that talk to a running server (`--server`):
/// which CAs to trust for an `https://` URL, a client certificate for a server that asks for
/// one, and who to log in as. Each has an environment-variable twin; passwords and API keys
/// come only from the environment (or a prompt), so they never show in `ps`.
struct ClientOptions: ParsableArguments {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    @Option(
        name: .customLong("ca-cert"),
        help: ArgumentHelp("Verify an https:// server against these PEM CAs instead of the system's (env LOGSTORE_CA_CERT).", valueName: "file"))
    var caCertOption: String?
    var caCert: String? { caCertOption ?? Self.env["LOGSTORE_CA_CERT"] }

    @Option(
        name: .customLong("user"),
        help: ArgumentHelp(
            "Log in as this user; the password comes from env LOGSTORE_PASSWORD, else a prompt on a terminal (env LOGSTORE_USER). "
                + "Without a user, env LOGSTORE_API_KEY (NAME.SECRET from `logstore user key`) is sent as a bearer key.",
            valueName: "name"))
    var userOption: String?
    var user: String? { userOption ?? Self.env["LOGSTORE_USER"] }

    @Option(
        name: .customLong("client-cert"),
        help: ArgumentHelp("PEM client certificate for a server started with --tls-client-ca (env LOGSTORE_CLIENT_CERT).", valueName: "file"))
    var clientCertOption: String?
    var clientCert: String? { clientCertOption ?? Self.env["LOGSTORE_CLIENT_CERT"] }

    @Option(
        name: .customLong("client-key"),
        help: ArgumentHelp("The PEM private key of --client-cert (env LOGSTORE_CLIENT_KEY).", valueName: "file"))
    var clientKeyOption: String?
    var clientKey: String? { clientKeyOption ?? Self.env["LOGSTORE_CLIENT_KEY"] }

    func validate() throws {
        if (clientCert == nil) != (clientKey == nil) { throw ValidationError("--client-cert and --client-key go together") }
    }

    /// ClientOptions.endpoint resolves `server` with these options: the TLS context of an
    /// https:// URL and the credentials (asking for the password on a terminal when
    /// LOGSTORE_PASSWORD is not set). Call it only when the server is about to be asked.
    ///
    /// - Throws: `ValidationError` for a bad URL or a CA or client file that does not load;
    ///   `ExitCode.badInput` (after a one-line `error:`) when a password is needed and none is given.
    func endpoint(_ server: String) throws -> ServerEndpoint {
        let tls = try server.lowercased().hasPrefix("https://") ? tlsContext() : nil
        let (authorization, source) = try credentials()
        do {
            return try ServerEndpoint(url: server, tls: tls, authorization: authorization, credentialSource: source)
        } catch let error as HTTPFetch.BadURL {
            throw ValidationError("--server \(error)")
        }
    }

    /// ClientOptions.credentials returns the `Authorization` header value and what it came
    /// from: `--user` with its password, else LOGSTORE_API_KEY, else nothing.
    func credentials() throws -> (String?, String?) {
        if let user {
            let password: String
            if let fromEnv = Self.env["LOGSTORE_PASSWORD"], !fromEnv.isEmpty {
                password = fromEnv
            } else if isatty(0) == 1, let typed = getpass("Password for \(user): "), typed.pointee != 0 {
                password = String(cString: typed)
            } else {
                printError("error: --user \(user) needs a password: set LOGSTORE_PASSWORD (or run on a terminal to be asked)")
                throw ExitCode.badInput
            }
            let basic = Data("\(user):\(password)".utf8).base64EncodedString()
            return ("Basic \(basic)", "user \(user)")
        }
        if let key = Self.env["LOGSTORE_API_KEY"]?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty {
            let name = key.split(separator: ".", maxSplits: 1).first.map(String.init) ?? key
            return ("Bearer \(key)", "user \(name)'s key (LOGSTORE_API_KEY)")
        }
        return (nil, nil)
    }

    /// ClientOptions.tlsContext builds the TLS 1.2+ client context: full certificate and host
    /// name verification against `--ca-cert` or the system's trust store, and the client
    /// certificate when one is given.
    func tlsContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            if let caCert { configuration.trustRoots = .certificates(try Self.certificates(caCert)) }
            if let clientCert, let clientKey {
                configuration.certificateChain = try Self.certificates(clientCert).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKey, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot set up TLS: \(error)")
        }
    }

    /// ClientOptions.certificates loads the PEM certificates in `path`.
    ///
    /// - Throws: `ValidationError` naming the file when it does not load or holds none.
    static func certificates(_ path: String) throws -> [NIOSSLCertificate] {
        let loaded: [NIOSSLCertificate]
        do { loaded = try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw ValidationError("cannot load the certificate file \(path): \(error)")
        }
        if loaded.isEmpty { throw ValidationError("no PEM certificate in \(path)") }
        return loaded
    }
}
