import Foundation
import Logging
import ServiceLifecycle

/// The coordinator's clockwork, run beside the HTTP server in its service group: expires leases
/// every `interval` even when no worker is asking, and every `housekeepingEvery` ticks forgets
/// silent workers and unused datasets. Stops with the group (graceful shutdown or cancellation).
public struct CoordinatorTicker: Service {
    let service: CoordinatorService
    let logger: Logger
    let interval: Duration
    let housekeepingEvery: Int

    public init(service: CoordinatorService, logger: Logger, interval: Duration = .seconds(1), housekeepingEvery: Int = 30) {
        self.service = service
        self.logger = logger
        self.interval = interval
        self.housekeepingEvery = housekeepingEvery
    }

    public func run() async throws {
        // Graceful shutdown (SIGTERM) cancels the loop at once instead of after its sleep.
        await cancelWhenGracefulShutdown { await tick() }
    }

    func tick() async {
        var ticks = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            // A failure here (storage busy or full) surfaces through the store's own alert.
            try? await service.expireLeases()
            ticks += 1
            if ticks % housekeepingEvery == 0 {
                do { try await service.housekeep() } catch { logger.error("housekeeping failed", metadata: ["error": "\(error)"]) }
            }
        }
    }
}
