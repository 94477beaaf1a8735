import CoordinatorAPI
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The coordinator's API over HTTP with Foundation's URLSession (libcurl on Linux).
public struct HTTPCoordinatorClient: CoordinatorClient {
    public let base: URL
    public let token: String?
    let session: URLSession
    /// Plain `http://` goes over sockets (see ``SocketHTTPClient``: URLSession spins on Linux
    /// while a long poll waits); `https://` over URLSession.
    let sockets: SocketHTTPClient?

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

    public init(base: URL, token: String?, timeout: Double = 60) {
        self.base = base
        self.token = token
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.timeoutIntervalForResource = max(timeout, 600)
        session = URLSession(configuration: config)
        if base.scheme == "http", let host = base.host {
            sockets = SocketHTTPClient(
                host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host,
                port: UInt16(exactly: base.port ?? 80) ?? 0, timeout: timeout)
        } else {
            sockets = nil
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// Sends a request; returns the body of a 2xx answer.
    public func send(
        _ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json",
        query: [URLQueryItem] = [], accept404: Bool = false
    ) async throws -> (status: Int, body: Data) {
        var components = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let data: Data, status: Int
        if let sockets, let url = components.url {
            var target = url.path.isEmpty ? "/" : components.percentEncodedPath
            if let q = components.percentEncodedQuery { target += "?" + q }
            var headers: [(String, String)] = []
            if let token { headers.append(("Authorization", "Bearer \(token)")) }
            if body != nil { headers.append(("Content-Type", contentType)) }
            do {
                (status, data) = try await sockets.send(method: method, target: target, headers: headers, body: body)
            } catch {
                throw ClientError.unreachable("\(base.absoluteString): \(error)")
            }
        } else {
            let response: URLResponse
            do {
                (data, response) = try await session.data(for: request)
            } catch {
                throw ClientError.unreachable("\(base.absoluteString): \(error.localizedDescription)")
            }
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
        }
        if (200..<300).contains(status) || (accept404 && status == 404) { return (status, data) }
        let message = (try? JSONDecoder().decode(Wire.ErrorBody.self, from: data).error) ?? String(decoding: data.prefix(500), as: UTF8.self)
        throw ClientError.http(status: status, message: message)
    }

    func call<Out: Decodable>(_ method: String, _ path: String, _ body: (some Encodable)?) async throws -> Out {
        let data = try body.map { try Self.encoder.encode($0) }
        let (_, reply) = try await send(method, path, body: data)
        return try JSONDecoder().decode(Out.self, from: reply)
    }

    public func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask] {
        try await leaseAnswer(request).tasks
    }

    public func leaseAnswer(_ request: Wire.LeaseRequest) async throws -> Wire.LeaseResponse {
        let (_, reply) = try await send("POST", "v1/lease", body: try Self.encoder.encode(request))
        return try Wire.LeaseResponse.fastDecode(reply) ?? JSONDecoder().decode(Wire.LeaseResponse.self, from: reply)
    }

    public func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String] {
        let r: Wire.HeartbeatResponse = try await call("POST", "v1/heartbeat", heartbeat)
        return r.valid
    }

    public func submit(_ submission: Wire.Submission) async throws -> Wire.SubmissionStatus {
        // Results are most of the bytes a worker sends: written by hand (as JSONEncoder would).
        let (_, reply) = try await send("POST", "v1/results", body: try submission.jsonBytes())
        return try JSONDecoder().decode(Wire.SubmissionResponse.self, from: reply).status
    }

    public func context(run: String) async throws -> Wire.RunContext {
        try await call("GET", "v1/runs/\(run)/context", Optional<Wire.ErrorBody>.none)
    }

    public func dataset(hash: String) async throws -> Data {
        try await send("GET", "v1/datasets/\(hash)").body
    }
}
