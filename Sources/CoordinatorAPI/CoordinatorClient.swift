import Foundation

/// What a worker needs from a coordinator: over HTTP (the Worker target's `HTTPCoordinatorClient`) or in the
/// same process (the Coordinator target's `InProcessClient`), so both use one worker loop.
public protocol CoordinatorClient: Sendable {
    func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask]
    /// Leases tasks and learns which runs are still running (`running` nil when the
    /// coordinator does not say; the default leases with ``lease(_:)``).
    func leaseAnswer(_ request: Wire.LeaseRequest) async throws -> Wire.LeaseResponse
    func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String]
    func submit(_ submission: Wire.Submission) async throws -> Wire.SubmissionStatus
    func context(run: String) async throws -> Wire.RunContext
    func dataset(hash: String) async throws -> Data
}

extension CoordinatorClient {
    /// Leases without news of running runs.
    public func leaseAnswer(_ request: Wire.LeaseRequest) async throws -> Wire.LeaseResponse {
        Wire.LeaseResponse(tasks: try await lease(request))
    }
}

/// Errors a client reports: transport problems are retried, the others are not.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The coordinator could not be reached (connection refused, timeout, DNS...).
    case unreachable(String)
    /// The coordinator answered with an error status.
    case http(status: Int, message: String)
    /// The coordinator's address is not a usable URL (the message says why).
    case invalidURL(String)
    /// Content-addressed bytes (a dataset or resample index matrix) that do not hash to the name
    /// they were fetched by: corrupted in transit or served wrongly; never used.
    case hashMismatch(expected: String, actual: String)

    /// A refusal that retrying cannot fix: a 4xx other than 408 (timeout) and 429 (too many
    /// requests), e.g. a wrong token or a request the coordinator will never accept.
    public var isRefusal: Bool {
        if case let .http(status, _) = self { return (400..<500).contains(status) && status != 408 && status != 429 }
        return false
    }

    public var description: String {
        switch self {
        case let .unreachable(m): return "coordinator unreachable: \(m)"
        case let .http(status, m): return "coordinator answered \(status): \(m)"
        case let .invalidURL(m): return m
        case let .hashMismatch(expected, actual): return "dataset \(expected) arrived with hash \(actual): refusing it"
        }
    }
}
