import CoordinatorAPI
import Foundation

/// A worker's view of a coordinator in the same process: the same worker loop as over HTTP,
/// without the sockets. `lassoboot run` uses it, and tests use it to run workers and the
/// coordinator together.
public struct InProcessClient: CoordinatorClient {
    public let service: CoordinatorService

    public init(service: CoordinatorService) { self.service = service }

    public func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask] {
        try await service.lease(request, maxWait: request.wait)
    }

    /// Leases with the running runs, as the HTTP answer gives them, so a worker drops the
    /// preparations of runs that ended.
    public func leaseAnswer(_ request: Wire.LeaseRequest) async throws -> Wire.LeaseResponse {
        let tasks = try await lease(request)
        return Wire.LeaseResponse(tasks: tasks, running: await service.runningRunIDs())
    }

    public func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String] { try await service.heartbeat(heartbeat) }
    public func submit(_ submission: Wire.Submission) async throws -> Wire.SubmissionStatus { try await service.submit(submission) }
    public func context(run: String) async throws -> Wire.RunContext { try await service.context(run) }
    public func dataset(hash: String) async throws -> Data { try await service.dataset(hash) }
}
