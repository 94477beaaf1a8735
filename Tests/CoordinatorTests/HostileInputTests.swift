import Analysis
import CoordinatorAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Plan
import Store
import Tabular
import Testing

@testable import Coordinator

/// Input that used to kill the coordinator (issue 14): each gets a 4xx, and it keeps serving.
@Suite("Coordinator: hostile input")
struct HostileInputTests {
    func app(limits: BodyLimits = BodyLimits()) throws -> (some ApplicationProtocol, CoordinatorService) {
        let service = try CoordinatorService(store: MemoryStore(), software: "test")
        let router = CoordinatorHTTP.router(
            service: service, tokens: Tokens(client: "client-token", worker: "worker-token"),
            limits: limits, maxLeaseWait: 0.2)
        return (Application(router: router), service)
    }

    func message(_ r: TestResponse) -> String { (try? JSONDecoder().decode(Wire.ErrorBody.self, from: Data(r.body.readableBytesView)).error) ?? "" }

    @Test("form bodies: valid percent-encoding decodes, anything else is nil (never a trap)")
    func forms() {
        let ok = formFields(Data("token=a%20b+c&next=%2Fruns%2Fx&empty=&flag".utf8))
        #expect(ok?.map(\.name) == ["token", "next", "empty", "flag"])
        #expect(ok?.map(\.value) == ["a b c", "/runs/x", "", ""])
        for bad in ["token=a b", "token=%zz", "%", "token=%", "token=%4", "next=\\", "token=\u{7f}", "token=%ff%fe"] {
            #expect(formFields(Data(bad.utf8)) == nil, "\(bad)")
        }
        #expect(formFields(Data([0x74, 0x3d, 0xc3])) == nil)
    }

    @Test("POST /login with malformed bodies is 400; a good one still signs in")
    func login() async throws {
        let (app, _) = try app()
        try await app.test(.router) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            for bad in ["token=a b", "token=%zz", "%", "token=client-token&next=/\\evil", "token=%E0%80"] {
                let r = try await client.execute(uri: "/login", method: .post, headers: form, body: ByteBuffer(string: bad))
                // A backslash is not valid form encoding (it must be %5C): 400 too.
                #expect(r.status == .badRequest, "\(bad): \(r.status)")
            }
            let escaped = try await client.execute(
                uri: "/login", method: .post, headers: form,
                body: ByteBuffer(string: "token=client-token&next=%2F%5Cevil.example"))
            #expect(escaped.status == .seeOther)
            #expect(escaped.headers[.location] == "/", "a backslash in next never leaves the site")
            let good = try await client.execute(
                uri: "/login", method: .post, headers: form, body: ByteBuffer(string: "token=client-token&next=%2Fruns%2Fr1"))
            #expect(good.status == .seeOther && good.headers[.location] == "/runs/r1")
            let wrong = try await client.execute(uri: "/login", method: .post, headers: form, body: ByteBuffer(string: "token=nope"))
            #expect(wrong.status == .unauthorized)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test("the bearer scheme is case-insensitive (RFC 7235); other schemes and bare tokens are not")
    func bearerCase() async throws {
        let (app, _) = try app()
        try await app.test(.router) { client in
            for (header, status) in [
                ("bearer client-token", HTTPResponse.Status.ok), ("BEARER client-token", .ok), ("Bearer  client-token", .ok),
                ("Bearer client-token", .ok), ("Bearerclient-token", .unauthorized), ("Basic client-token", .unauthorized),
                ("client-token", .unauthorized), ("bearer ", .unauthorized),
            ] {
                let r = try await client.execute(uri: "/v1/runs", method: .get, headers: [.authorization: header])
                #expect(r.status == status, "'\(header)': \(r.status)")
            }
        }
    }

    @Test("a worker of another protocol version is refused with 409 saying so; one that does not say is served; the worker stops on it")
    func protocolVersion() async throws {
        let (app, _) = try app()
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer worker-token", .contentType: "application/json"]
            let old = try await client.execute(
                uri: "/v1/lease", method: .post, headers: auth,
                body: ByteBuffer(string: #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0, "protocolVersion": 2}"#))
            #expect(old.status == .conflict)
            #expect(message(old).contains("protocol version 2") && message(old).contains("speaks version \(Wire.protocolVersion)"), "\(message(old))")
            let current = try await client.execute(
                uri: "/v1/lease", method: .post, headers: auth,
                body: ByteBuffer(
                    string: #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0, "protocolVersion": \#(Wire.protocolVersion)}"#))
            #expect(current.status == .ok)
            let unsaid = try await client.execute(
                uri: "/v1/lease", method: .post, headers: auth,
                body: ByteBuffer(string: #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0}"#))
            #expect(unsaid.status == .ok)
        }
        // Every lease request a worker makes carries the version, and a 409 is a refusal (the
        // worker stops with the message instead of retrying).
        #expect(Wire.LeaseRequest(worker: "w", host: "h", threads: 1, max: 1, wait: 0).protocolVersion == Wire.protocolVersion)
        #expect(ClientError.http(status: 409, message: "").isRefusal)
    }

    @Test("results keyed with negative or inverted indices are 422, not a crash")
    func negativeKeys() async throws {
        let (app, service) = try app()
        let hash = try await service.putDataset(Data(HTTPTests.csv.utf8)).hash
        let run = try await service.createRun(Wire.CreateRun(spec: HTTPTests.spec, dataset: hash, dataName: "x.csv"))
        try await app.test(.router) { client in
            let fit = FitOutcome.coefficients([0, 0, 0, 0])
            let cases: [(TaskKey, TaskResult)] = [
                (.cv(outcome: -1, fold: 0), .cv(scores: [0.5], failures: [nil], heldOutWeight: 1)),
                (.cv(outcome: 0, fold: -1), .cv(scores: [0.5], failures: [nil], heldOutWeight: 1)),
                (.cv(outcome: Int.min, fold: Int.min), .cv(scores: [], failures: [], heldOutWeight: 0)),
                (.estimate(outcome: -1), .estimate(fit, kktViolation: 0, iterations: 1)),
                (.bootstrap(start: -5, end: -4), .bootstrap(fits: [[fit, fit]], chosenAlphas: nil)),
                (.bootstrap(start: 3, end: 1), .bootstrap(fits: [], chosenAlphas: nil)),
                (.bootstrap(start: Int.min, end: Int.max), .bootstrap(fits: [], chosenAlphas: nil)),
                (.jackknife(outcome: -1, start: 0, end: 1), .jackknife(fits: [fit])),
                (.jackknife(outcome: 0, start: -2, end: -1), .jackknife(fits: [fit])),
                (.jackknife(outcome: 0, start: Int.min, end: Int.max), .jackknife(fits: [])),
            ]
            for (key, result) in cases {
                let s = Wire.Submission(worker: "w", run: run.id, key: key, lease: "forged", dataset: hash, result: result)
                let text = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
                let r = try await client.execute(
                    uri: "/v1/results", method: .post,
                    headers: [.authorization: "Bearer worker-token", .contentType: "application/json"],
                    body: ByteBuffer(string: text))
                #expect(r.status == .unprocessableContent || r.status == .badRequest, "\(key): \(r.status) \(message(r))")
            }
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test("a dataset over the limit is 413 naming the limit, announced or not")
    func oversizedDataset() async throws {
        let (app, service) = try app(limits: BodyLimits(dataset: 1000))
        try await app.test(.router) { client in
            let big = String(repeating: "x", count: 5000)
            let announced = try await client.execute(
                uri: "/v1/datasets/\(String(repeating: "0", count: 64))", method: .put,
                headers: [.authorization: "Bearer client-token", .contentLength: "5000"],
                body: ByteBuffer(string: big))
            #expect(announced.status == .contentTooLarge)
            #expect(message(announced).contains("limit of 1000 bytes"), "\(message(announced))")
        }
        #expect(BodyLimits(dataset: .max).dataset == BodyLimits.datasetCeiling, "never above the sanity ceiling")
        await #expect(throws: ServiceError.self) { try await service.putDataset(Data(count: 11), maxBytes: 10) }
    }

    @Test("a dataset upload is streamed into the store in pieces and reads back whole; a bad hash stores nothing")
    func datasetInPieces() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-pieces-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let store = try SQLiteStore(path: path)
        let service = try CoordinatorService(store: store, software: "test")
        let router = CoordinatorHTTP.router(
            service: service, tokens: Tokens(client: "client-token", worker: "worker-token"),
            limits: {
                var l = BodyLimits(); l.uploadPiece = 4096; return l
            }(), maxLeaseWait: 0.2)
        // About 25 pieces of CSV text, every line different.
        var text = "x,y\n"
        var i = 0
        while text.utf8.count < 100_000 { text += "\(i),\(i % 2)\n"; i += 1 }
        let bytes = Data(text.utf8)
        let hash = SHA256.hex(bytes)
        try await Application(router: router).test(.router) { client in
            let wrong = String(repeating: "0", count: 64)
            let bad = try await client.execute(
                uri: "/v1/datasets/\(wrong)", method: .put, headers: [.authorization: "Bearer client-token"],
                body: ByteBuffer(bytes: bytes))
            #expect(bad.status == .badRequest && message(bad).contains("hash mismatch"), "\(message(bad))")
            #expect(try store.datasetHashes().isEmpty, "a refused upload leaves no dataset")
            let put = try await client.execute(
                uri: "/v1/datasets/\(hash)", method: .put, headers: [.authorization: "Bearer client-token"],
                body: ByteBuffer(bytes: bytes))
            #expect(put.status == .created)
            let get = try await client.execute(uri: "/v1/datasets/\(hash)", method: .get, headers: [.authorization: "Bearer worker-token"])
            #expect(get.status == .ok && Data(get.body.readableBytesView) == bytes)
        }
        #expect(try store.datasetHashes() == [hash])
        #expect(try store.dataset(hash: hash) == bytes)
    }
}
