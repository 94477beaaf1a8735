import AsyncHTTPClient
import CoordinatorAPI
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The coordinator's API over HTTP and HTTPS, for workers and the CLI (async-http-client on
/// SwiftNIO: an idle long poll waits in epoll at no CPU, and no libcurl is linked).
///
/// Every instance shares one connection pool, so connections are kept alive and reused across
/// the worker loop's leases, heartbeats and results.
public struct HTTPCoordinatorClient: CoordinatorClient {
    /// The coordinator's base URL (`http://HOST:PORT` or `https://HOST:PORT`).
    public let base: URL
    /// The bearer token sent with every request (`nil`: none).
    public let token: String?
    /// Seconds a request may take before it fails as unreachable.
    public let timeout: Double

    /// The coordinator's base URL from the user's text, or a one-line reason it is not one:
    /// scheme `http` or `https`, a host, and a port (if given) in 1...65535.
    public static func validatedBase(_ text: String) -> Result<URL, ClientError> {
        func bad(_ why: String) -> Result<URL, ClientError> {
            .failure(.invalidURL("'\(text)' is not a coordinator URL: \(why)"))
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return bad("expected http://HOST:PORT or https://HOST:PORT") }
        guard scheme == "http" || scheme == "https" else { return bad("the scheme must be http or https, not \(scheme)") }
        guard let host = url.host, !host.isEmpty else { return bad("no host") }
        if let port = url.port, !(1...65535).contains(port) { return bad("port \(port) is outside 1-65535") }
        // URL accepts a port it could not read as a number; check what follows the host's colon.
        if let authority = text.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: true).dropFirst().first,
            !authority.hasSuffix("]"), let colon = authority.lastIndex(of: ":"), url.port == nil
        {
            let port = authority[authority.index(after: colon)...]
            if !port.isEmpty { return bad("port '\(port)' is not a number in 1-65535") }
        }
        return .success(url)
    }

    /// A client of the coordinator at `base`; requests fail after `timeout` seconds.
    public init(base: URL, token: String?, timeout: Double = 60) {
        self.base = base
        self.token = token
        self.timeout = timeout
    }

    /// The process's one connection pool. Connection failures are reported, not retried, and redirects are refused (a coordinator never redirects,
    /// and a redirect must not carry the token elsewhere); bodies are never decompressed.
    static let pool: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)),
            connectionPool: .init(idleTimeout: .seconds(50)))
        configuration.decompression = .disabled
        // A refused connection fails the request at once (the worker's own backoff retries it;
        // a CLI user gets the reason now, not after the request timeout).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Sends a request; returns the status and body of a 2xx answer (or of a 404 with
    /// `accept404`). Other answers throw ``ClientError/http(status:message:)`` with the
    /// coordinator's message; transport failures throw ``ClientError/unreachable(_:)``.
    func send(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json",
        query: [(String, String)] = [], accept404: Bool = false
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: Self.url(base, path, query))
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType)
        }
        let status: Int
        var data = Data()
        do {
            let response = try await Self.pool.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            status = Int(response.status.code)
            if let length = response.headers.first(name: "content-length").flatMap({ Int($0) }), length > 0 {
                data.reserveCapacity(length)
            }
            for try await chunk in response.body { data.append(contentsOf: chunk.readableBytesView) }
        } catch {
            throw ClientError.unreachable("\(base.absoluteString): \(Self.describe(error))")
        }
        if (200..<300).contains(status) || (accept404 && status == 404) { return (status, data) }
        let message = (try? JSONDecoder().decode(Wire.ErrorBody.self, from: data).error) ?? String(decoding: data.prefix(500), as: UTF8.self)
        throw ClientError.http(status: status, message: message)
    }

    /// `base` + `/path` + `?query`, the query's values percent-encoded.
    static func url(_ base: URL, _ path: String, _ query: [(String, String)]) -> String {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        text += "/" + path
        if !query.isEmpty {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            text +=
                "?"
                + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        }
        return text
    }

    /// A transport failure in words a user can act on.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "TLS: the coordinator's certificate is not trusted by this host (add its CA to the system's trust store): \(text)"
        }
        if let e = error as? IOError, e.errnoCode == ECONNREFUSED || text.contains("Connection refused") {
            return "connection refused (nothing listens at that host and port: is the coordinator running?)"
        }
        if text.contains("UnknownHost") || text.contains("Name or service not known") {
            return "the host name does not resolve (\(text))"
        }
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout: return "no answer in time (\(text))"
            case .connectTimeout: return "connection timed out"
            case .remoteConnectionClosed: return "the coordinator closed the connection mid-request"
            default: return text
            }
        }
        return text
    }

    func call<Out: Decodable>(_ method: HTTPMethod, _ path: String, _ body: (some Encodable)?) async throws -> Out {
        let data = try body.map { try Self.encoder.encode($0) }
        return try JSONDecoder().decode(Out.self, from: try await send(method, path, body: data).body)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    public func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask] {
        try await leaseAnswer(request).tasks
    }

    public func leaseAnswer(_ request: Wire.LeaseRequest) async throws -> Wire.LeaseResponse {
        let (_, reply) = try await send(.POST, "v1/lease", body: try Self.encoder.encode(request))
        return try Wire.LeaseResponse.fastDecode(reply) ?? JSONDecoder().decode(Wire.LeaseResponse.self, from: reply)
    }

    public func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String] {
        let r: Wire.HeartbeatResponse = try await call(.POST, "v1/heartbeat", heartbeat)
        return r.valid
    }

    public func submit(_ submission: Wire.Submission) async throws -> Wire.SubmissionStatus {
        // Results are most of the bytes a worker sends: written by hand (as JSONEncoder would).
        let (_, reply) = try await send(.POST, "v1/results", body: try submission.jsonBytes())
        return try JSONDecoder().decode(Wire.SubmissionResponse.self, from: reply).status
    }

    public func context(run: String) async throws -> Wire.RunContext {
        try await call(.GET, "v1/runs/\(run)/context", Optional<Wire.ErrorBody>.none)
    }

    public func dataset(hash: String) async throws -> Data {
        try await send(.GET, "v1/datasets/\(hash)").body
    }
}

// Run management: what `submit`, `status`, `results` and `cancel` ask of a coordinator.
extension HTTPCoordinatorClient {
    /// Whether the coordinator already holds the dataset (or resample index file) `hash`.
    public func hasDataset(_ hash: String) async throws -> Bool {
        try await send(.HEAD, "v1/datasets/\(hash)", accept404: true).status != 404
    }

    /// Uploads a dataset under its SHA-256 name; the coordinator checks the hash.
    public func putDataset(_ hash: String, _ bytes: Data) async throws {
        _ = try await send(.PUT, "v1/datasets/\(hash)", body: bytes, contentType: "text/csv")
    }

    /// Creates a run; the answer is its first status.
    public func createRun(_ create: Wire.CreateRun) async throws -> Wire.RunStatus {
        try await call(.POST, "v1/runs", create)
    }

    /// One run's status; `wait` long-polls (answered when the run changes phase or ends, else
    /// after about a second).
    public func runStatus(_ id: String, wait: Bool = false) async throws -> Wire.RunStatus {
        try JSONDecoder().decode(Wire.RunStatus.self, from: try await send(.GET, "v1/runs/\(id)", query: wait ? [("wait", "1")] : []).body)
    }

    /// Every run and every worker the coordinator knows.
    public func runs() async throws -> Wire.RunList {
        try JSONDecoder().decode(Wire.RunList.self, from: try await send(.GET, "v1/runs").body)
    }

    /// A finished run's report in a format the coordinator serves (`csv`, `json`, `markdown`,
    /// `cv`, `replicates`, `model`, `html`, ...), as its bytes.
    public func report(_ id: String, format: String) async throws -> Data {
        try await send(.GET, "v1/runs/\(id)/report", query: [("format", format)]).body
    }

    /// Cancels a run; the answer is its status after.
    public func cancel(_ id: String) async throws -> Wire.RunStatus {
        try JSONDecoder().decode(Wire.RunStatus.self, from: try await send(.POST, "v1/runs/\(id)/cancel").body)
    }
}
