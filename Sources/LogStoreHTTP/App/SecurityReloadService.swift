import Dispatch
import Foundation
import Logging
import ServiceLifecycle

/// SecurityReloadService reads the users file and the TLS files again when they change
/// (checked every `SecurityOptions.reloadInterval`) and unconditionally on SIGHUP, until the
/// server shuts down.
struct SecurityReloadService: Service {
    let users: UserDirectory?
    let tls: TLSCertificateStore?
    let interval: Duration
    let logger: Logger

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        let hangups = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangups.setEventHandler { [users, tls, logger] in
            logger.info("SIGHUP: reloading the users file and TLS certificate")
            users?.reloadIfChanged(force: true)
            tls?.reloadIfChanged(force: true)
        }
        hangups.resume()
        defer { hangups.cancel() }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            if Task.isShuttingDownGracefully { return }
            users?.reloadIfChanged()
            tls?.reloadIfChanged()
        }
    }
}
