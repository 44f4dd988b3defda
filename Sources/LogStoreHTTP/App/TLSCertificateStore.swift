import Foundation
import Logging
import NIOSSL
import Synchronization

/// TLSCertificateStore holds the server's TLS context built from PEM files: a certificate
/// chain, its private key and, optionally, the CAs whose client certificates are required.
/// TLS 1.2 is the oldest version offered.
///
/// `reloadIfChanged` builds a new context when a file changed (SIGHUP forces it); new
/// connections use the new context, open ones keep theirs. Files that do not load leave the
/// context in force and are logged.
public final class TLSCertificateStore: Sendable {
    public let certificatePath: String
    public let keyPath: String
    public let clientCAPath: String?
    let logger: Logger

    struct Loaded {
        var context: NIOSSLContext
        var signature: [UserDirectory.FileSignature?]
    }
    /// Guards the context in force and the signature of the files it was built from.
    let loaded: Mutex<Loaded>

    /// TLSCertificateStore.init loads the files.
    ///
    /// - Throws: `TLSFilesError` naming the file that does not load.
    public init(certificatePath: String, keyPath: String, clientCAPath: String? = nil, logger: Logger) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
        self.logger = logger
        let signature = [certificatePath, keyPath, clientCAPath].map { $0.flatMap(UserDirectory.signature) }
        let context = try Self.makeContext(certificatePath: certificatePath, keyPath: keyPath, clientCAPath: clientCAPath)
        loaded = Mutex(Loaded(context: context, signature: signature))
    }

    /// TLSCertificateStore.context is the context new connections use.
    public var context: NIOSSLContext { loaded.withLock { $0.context } }

    /// TLSFilesError says which PEM file did not load and why.
    public struct TLSFilesError: Error, CustomStringConvertible {
        public let description: String
    }

    static func makeContext(certificatePath: String, keyPath: String, clientCAPath: String?) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
            throw TLSFilesError(description: "cannot load the TLS certificate \(certificatePath): \(error)")
        }
        guard !chain.isEmpty else { throw TLSFilesError(description: "no certificate in \(certificatePath)") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
            throw TLSFilesError(description: "cannot load the TLS key \(keyPath): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAPath {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAPath)) } catch {
                throw TLSFilesError(description: "cannot load the client CA \(clientCAPath): \(error)")
            }
            // A client must show a certificate signed by one of these CAs (no host name check).
            configuration.certificateVerification = .noHostnameVerification
        }
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw TLSFilesError(description: "the TLS certificate \(certificatePath) and key \(keyPath) do not make a context: \(error)")
        }
    }

    /// TLSCertificateStore.reloadIfChanged builds a new context when one of the files changed
    /// (or always when `force`).
    ///
    /// - Returns: true when new connections get a new context.
    @discardableResult
    public func reloadIfChanged(force: Bool = false) -> Bool {
        let signature = [certificatePath, keyPath, clientCAPath].map { $0.flatMap(UserDirectory.signature) }
        if !force, signature == loaded.withLock({ $0.signature }) { return false }
        do {
            let context = try Self.makeContext(certificatePath: certificatePath, keyPath: keyPath, clientCAPath: clientCAPath)
            loaded.withLock { $0 = Loaded(context: context, signature: signature) }
            logger.info("TLS certificate loaded", metadata: ["certificate": "\(certificatePath)"])
            return true
        } catch {
            loaded.withLock { $0.signature = signature }
            logger.error("TLS certificate not reloaded; the previous one stays in force", metadata: ["error": "\(error)"])
            return false
        }
    }
}
