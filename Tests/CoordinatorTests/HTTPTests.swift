import Analysis
import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Plan
import Scheduler
import Store
import Testing

/// The HTTP API in process (no sockets): every endpoint, bad input, tokens.
@Suite("Coordinator HTTP API")
struct HTTPTests {
    static let csv =
        (try? String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/run_replay_data.csv"), encoding: .utf8)) ?? ""
    static let spec =
        #"{"name": "t", "data": {"csv": "x.csv"}, "outcomes": ["labour", "sexual"], "features": [{"name": "age"}, {"name": "female", "encoding": "binary"}, {"name": "debt", "encoding": "binary"}], "alphas": {"count": 4}, "cv": {"folds": 3}, "bootstrap": {"resamples": 10, "batch": 5, "methods": ["percentile"]}, "seed": 3}"#

    func app(limits: BodyLimits = BodyLimits()) throws -> (some ApplicationProtocol, CoordinatorService) {
        let service = try CoordinatorService(store: MemoryStore(), software: "test")
        let router = CoordinatorHTTP.router(
            service: service, tokens: Tokens(client: "client-token", worker: "worker-token"),
            limits: limits, maxLeaseWait: 0.2)
        return (Application(router: router), service)
    }

    func auth(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }
    func json(_ s: String, _ token: String = "client-token") -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }
    func body(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }
    func message(_ r: TestResponse) -> String { (try? JSONDecoder().decode(Wire.ErrorBody.self, from: Data(r.body.readableBytesView)).error) ?? "" }

    @Test("tokens: health is open, everything else needs the right token for its side")
    func tokens() async throws {
        let (app, _) = try app()
        try await app.test(.router) { client in
            let s1 = try await client.execute(uri: "/healthz", method: .get).status
            #expect(s1 == .ok)
            let s2 = try await client.execute(uri: "/v1/runs", method: .get).status
            #expect(s2 == .unauthorized)
            let s3 = try await client.execute(uri: "/v1/runs", method: .get, headers: auth("nope")).status
            #expect(s3 == .unauthorized)
            let s4 = try await client.execute(uri: "/v1/runs", method: .get, headers: [.authorization: "Basic abc"]).status
            #expect(s4 == .unauthorized)
            let s5 = try await client.execute(uri: "/v1/runs", method: .get, headers: auth("worker-token")).status
            #expect(s5 == .unauthorized)
            let s6 = try await client.execute(uri: "/v1/runs", method: .get, headers: auth("client-token")).status
            #expect(s6 == .ok)
            let lease = #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0}"#
            let s7 = try await client.execute(uri: "/v1/lease", method: .post, headers: json(lease, "client-token"), body: body(lease)).status
            #expect(s7 == .unauthorized)
            let s8 = try await client.execute(uri: "/v1/lease", method: .post, headers: json(lease, "worker-token"), body: body(lease)).status
            #expect(s8 == .ok)
        }
    }

    @Test("bad input on every endpoint gets a 4xx with a message; the coordinator keeps serving")
    func badInput() async throws {
        let (app, service) = try app(limits: BodyLimits(dataset: 1 << 20, json: 4096))
        let hash = try await service.putDataset(Data(Self.csv.utf8)).hash
        try await app.test(.router) { client in
            func expect4xx(
                _ uri: String, _ method: HTTPRequest.Method, _ text: String?, token: String = "client-token",
                status: HTTPResponse.Status, contains: String
            ) async throws {
                let r = try await client.execute(uri: uri, method: method, headers: json(text ?? "", token), body: text.map(body))
                #expect(r.status == status, "\(method) \(uri): \(r.status) \(message(r))")
                #expect(message(r).contains(contains), "\(method) \(uri): '\(message(r))' lacks '\(contains)'")
            }
            // Datasets.
            try await expect4xx(
                "/v1/datasets/\(String(repeating: "0", count: 64))", .put, "a,b\n1,2\n", status: .badRequest, contains: "dataset hash mismatch")
            try await expect4xx("/v1/datasets/\(String(repeating: "0", count: 64))", .get, nil, status: .notFound, contains: "no dataset")
            try await expect4xx("/v1/datasets/abc", .put, String(repeating: "x", count: 2 << 20), status: .contentTooLarge, contains: "larger than")
            // Runs.
            try await expect4xx("/v1/runs", .post, "{not json", status: .badRequest, contains: "malformed CreateRun")
            try await expect4xx("/v1/runs", .post, #"{"spec": 3, "dataset": "x"}"#, status: .badRequest, contains: "expected String at .spec")
            try await expect4xx("/v1/runs", .post, #"{"dataset": "x"}"#, status: .badRequest, contains: "missing key 'spec'")
            try await expect4xx("/v1/runs", .post, String(repeating: " ", count: 5000), status: .contentTooLarge, contains: "larger than")
            let unknownData = try String(
                decoding: JSONEncoder().encode(Wire.CreateRun(spec: Self.spec, dataset: "beef", dataName: nil)), as: UTF8.self)
            try await expect4xx("/v1/runs", .post, unknownData, status: .notFound, contains: "no dataset with hash beef")
            let badSpec = try String(
                decoding: JSONEncoder().encode(
                    Wire.CreateRun(
                        spec: #"{"data": {"csv": "x"}, "outcomes": ["labour"], "features": [{"name": "age"}], "bogus": 1}"#, dataset: hash,
                        dataName: nil)), as: UTF8.self)
            try await expect4xx("/v1/runs", .post, badSpec, status: .unprocessableContent, contains: "bogus: unknown key")
            let badColumn = try String(
                decoding: JSONEncoder().encode(
                    Wire.CreateRun(
                        spec: #"{"data": {"csv": "x"}, "outcomes": ["labour"], "features": [{"name": "nope"}]}"#, dataset: hash, dataName: nil)),
                as: UTF8.self)
            try await expect4xx("/v1/runs", .post, badColumn, status: .unprocessableContent, contains: "no column named 'nope'")
            try await expect4xx("/v1/runs/run-nope", .get, nil, status: .notFound, contains: "no run run-nope")
            try await expect4xx("/v1/runs/run-nope/cancel", .post, nil, status: .notFound, contains: "no run")
            try await expect4xx("/v1/runs/run-nope/report", .get, nil, status: .notFound, contains: "no run")
            // A real run to aim worker requests at.
            let good = try String(decoding: JSONEncoder().encode(Wire.CreateRun(spec: Self.spec, dataset: hash, dataName: "x.csv")), as: UTF8.self)
            let created = try await client.execute(uri: "/v1/runs", method: .post, headers: json(good), body: body(good))
            #expect(created.status == .created)
            let run = try JSONDecoder().decode(Wire.RunStatus.self, from: Data(created.body.readableBytesView))
            try await expect4xx("/v1/runs/\(run.id)/report", .get, nil, status: .conflict, contains: "not ready")
            try await expect4xx("/v1/runs/\(run.id)/report?format=pdf", .get, nil, status: .conflict, contains: "not ready")
            // Worker endpoints.
            try await expect4xx("/v1/lease", .post, #"{"worker": "w"}"#, token: "worker-token", status: .badRequest, contains: "missing key")
            try await expect4xx(
                "/v1/lease", .post, #"{"worker": "", "host": "h", "threads": 1, "max": 0, "wait": 0}"#, token: "worker-token", status: .badRequest,
                contains: "worker must be non-empty")
            try await expect4xx(
                "/v1/heartbeat", .post, #"{"worker": 5}"#, token: "worker-token", status: .badRequest, contains: "malformed Heartbeat")
            let leased = try await service.lease(Wire.LeaseRequest(worker: "w", host: "h", threads: 1, max: 1, wait: 0))[0]
            func submission(_ result: TaskResult?, run: String = run.id, key: TaskKey? = nil, dataset: String = hash) throws -> String {
                String(
                    decoding: try JSONEncoder().encode(
                        Wire.Submission(worker: "w", run: run, key: key ?? leased.key, lease: leased.lease, dataset: dataset, result: result)),
                    as: UTF8.self)
            }
            try await expect4xx(
                "/v1/results", .post, try submission(.cv(scores: [0.5], failures: [nil], heldOutWeight: 1), run: "run-x"), token: "worker-token",
                status: .notFound, contains: "no run run-x")
            try await expect4xx(
                "/v1/results", .post, try submission(.cv(scores: [0.5], failures: [nil], heldOutWeight: 1), dataset: "bad"), token: "worker-token",
                status: .unprocessableContent, contains: "uses \(hash)")
            try await expect4xx(
                "/v1/results", .post, try submission(.cv(scores: [0.5], failures: [nil], heldOutWeight: 1)), token: "worker-token",
                status: .unprocessableContent, contains: "expected 4 scores")
            try await expect4xx(
                "/v1/results", .post, try submission(.jackknife(fits: [])), token: "worker-token", status: .unprocessableContent,
                contains: "does not match the task")
            try await expect4xx(
                "/v1/results", .post,
                try submission(.estimate(.coefficients([1, 2, 3, 4]), kktViolation: 0, iterations: 1), key: .estimate(outcome: 0)),
                token: "worker-token", status: .notFound, contains: "has no task estimate/o0")
            try await expect4xx(
                "/v1/results", .post, try submission(.estimate(.coefficients([1, 2]), kktViolation: 0, iterations: 1), key: .estimate(outcome: 0)),
                token: "worker-token", status: .unprocessableContent, contains: "expected 4 coefficients")
            try await expect4xx("/v1/results", .post, try submission(nil), token: "worker-token", status: .badRequest, contains: "needs a result")
            // Non-finite numbers: JSON has no NaN; an overflowing literal is refused.
            let nan = try submission(.cv(scores: [0.5, 0.5, 0.5, 0.5], failures: [nil, nil, nil, nil], heldOutWeight: 1)).replacingOccurrences(
                of: "0.5", with: "1e999")
            let r = try await client.execute(uri: "/v1/results", method: .post, headers: json(nan, "worker-token"), body: body(nan))
            #expect((400..<500).contains(Int(r.status.code)), "\(r.status) \(message(r))")
            // Still serving, and the state is consistent.
            let s9 = try await client.execute(uri: "/healthz", method: .get).status
            #expect(s9 == .ok)
            let status = try await service.status(run.id)
            #expect(status.state == .running && status.tasks.leased == 1 && status.tasks.done == 0)
            let cancel = try await client.execute(uri: "/v1/runs/\(run.id)/cancel", method: .post, headers: auth("client-token"))
            #expect(cancel.status == .ok)
            try await expect4xx("/v1/runs/\(run.id)/cancel", .post, nil, status: .conflict, contains: "already cancelled")
        }
    }
}
