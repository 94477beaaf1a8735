import Analysis
import CoordinatorAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Plan
import Scheduler
import Store
import Testing

@testable import Coordinator

/// The dashboard's access rules, `/metrics` and the OpenAPI document, in process.
@Suite("Coordinator web: dashboard, metrics, OpenAPI")
struct WebTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// - Parameter clock: the service's clock (fixed in tests that compare time-dependent gauges).
    func app(
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws -> (some ApplicationProtocol, CoordinatorService, Router<BasicRequestContext>) {
        let service = try CoordinatorService(store: MemoryStore(), software: "test", clock: clock)
        let router = CoordinatorHTTP.router(service: service, tokens: Tokens(client: "client-token", worker: "worker-token"), maxLeaseWait: 0.2)
        return (Application(router: router), service, router)
    }

    func text(_ r: TestResponse) -> String { String(decoding: r.body.readableBytesView, as: UTF8.self) }

    @Test("dashboard pages need the client token (header or cookie), never the worker token")
    func dashboardAccess() async throws {
        let (app, _, _) = try app()
        try await app.test(.router) { client in
            let anonymous = try await client.execute(uri: "/", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(text(anonymous).contains("Sign in") && !text(anonymous).contains("runs-box"))
            let worker = try await client.execute(uri: "/", method: .get, headers: [.cookie: "lassoboot_token=worker-token"])
            #expect(worker.status == .unauthorized)
            let workerHeader = try await client.execute(uri: "/", method: .get, headers: [.authorization: "Bearer worker-token"])
            #expect(workerHeader.status == .unauthorized)
            let ok = try await client.execute(uri: "/", method: .get, headers: [.cookie: "other=1; lassoboot_token=client-token"])
            #expect(ok.status == .ok)
            #expect(text(ok).contains("id=\"runs\"") && text(ok).contains("no runs yet"))
            // The page loads nothing from elsewhere, and says so to the browser.
            #expect(!text(ok).contains("http://") && !text(ok).contains("https://"))
            #expect(ok.headers.first { $0.name.canonicalName == "content-security-policy" }?.value.contains("default-src 'none'") == true)
            // The cookie opens read-only JSON, but never a state change.
            let list = try await client.execute(uri: "/v1/runs", method: .get, headers: [.cookie: "lassoboot_token=client-token"])
            #expect(list.status == .ok)
            let cancel = try await client.execute(uri: "/v1/runs/x/cancel", method: .post, headers: [.cookie: "lassoboot_token=client-token"])
            #expect(cancel.status == .unauthorized)
            let lease = try await client.execute(
                uri: "/v1/lease", method: .post, headers: [.cookie: "lassoboot_token=worker-token"],
                body: ByteBuffer(string: #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0}"#))
            #expect(lease.status == .unauthorized)
            let missing = try await client.execute(uri: "/runs/run-nope", method: .get, headers: [.cookie: "lassoboot_token=client-token"])
            #expect(missing.status == .notFound && text(missing).contains("no run run-nope"))
            // The pages' refresh fragments: the same tables, the same rules.
            for uri in ["/fragments/runs", "/fragments/workers", "/fragments/runs/run-nope/facts"] {
                let none = try await client.execute(uri: uri, method: .get, headers: [.cookie: "lassoboot_token=worker-token"])
                #expect(none.status == .unauthorized, "\(uri)")
            }
            let runs = try await client.execute(uri: "/fragments/runs", method: .get, headers: [.cookie: "lassoboot_token=client-token"])
            #expect(runs.status == .ok && text(runs).hasPrefix("<table class=\"grid\" id=\"runs\">") && text(runs).contains("no runs yet"))
            let workers = try await client.execute(uri: "/fragments/workers", method: .get, headers: [.authorization: "Bearer client-token"])
            #expect(workers.status == .ok && text(workers).contains("id=\"workers\"") && !text(workers).contains("<html"))
            let facts = try await client.execute(
                uri: "/fragments/runs/run-nope/facts", method: .get, headers: [.cookie: "lassoboot_token=client-token"])
            #expect(facts.status == .notFound)
        }
    }

    @Test("sign-in sets an HttpOnly SameSite cookie for the client token only, and returns to a local path")
    func login() async throws {
        let (app, _, _) = try app()
        try await app.test(.router) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let good = try await client.execute(
                uri: "/login", method: .post, headers: form,
                body: ByteBuffer(string: "token=client-token&next=%2Fruns%2Frun-1"))
            #expect(good.status == .seeOther)
            #expect(good.headers[.location] == "/runs/run-1")
            let cookie = good.headers[.setCookie] ?? ""
            #expect(cookie.hasPrefix("lassoboot_token=client%2Dtoken") || cookie.hasPrefix("lassoboot_token=client-token"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            let out = try await client.execute(uri: "/logout", method: .post)
            let cleared = out.headers[.setCookie] ?? ""
            #expect(out.status == .seeOther && cleared.hasPrefix("lassoboot_token=;") && cleared.contains("Max-Age=0"), "\(cleared)")
            let bad = try await client.execute(uri: "/login", method: .post, headers: form, body: ByteBuffer(string: "token=worker-token&next=/"))
            #expect(bad.status == .unauthorized && text(bad).contains("not accepted"))
            for next in ["https://evil.example/", "//evil.example/", "/\\evil"] {
                let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let r = try await client.execute(
                    uri: "/login", method: .post, headers: form, body: ByteBuffer(string: "token=client-token&next=\(encoded)"))
                #expect(r.headers[.location] == "/", "next=\(next) must not leave the site")
            }
            // The cookie the server set opens the dashboard.
            let value = cookie.split(separator: ";")[0]
            let page = try await client.execute(uri: "/", method: .get, headers: [.cookie: String(value)])
            #expect(page.status == .ok)
        }
    }

    @Test("/metrics needs the client token, parses as Prometheus text, and its counters equal the service's")
    func metrics() async throws {
        // A stopped clock: "alive" must not depend on how long a loaded machine takes to get here.
        let (app, service, _) = try app(clock: { 1_800_000_000 })
        let csv = try Data(contentsOf: Self.root.appendingPathComponent("Tests/Fixtures/run_replay_data.csv"))
        let hash = try await service.putDataset(csv).hash
        _ = try await service.createRun(Wire.CreateRun(spec: HTTPTests.spec, dataset: hash, dataName: "x.csv"))
        let leased = try await service.lease(Wire.LeaseRequest(worker: "w", host: "h", threads: 1, max: 3, wait: 0))
        #expect(leased.count == 3)
        try await app.test(.router) { client in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer worker-token"]).status == .unauthorized)
            let r = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer client-token"])
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            var values: [String: Double] = [:]
            for line in text(r).split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 2, "sample line '\(line)'")
                values[String(parts[0])] = Double(parts[1])
            }
            #expect(values["lassoboot_leases_issued_total"] == 3)
            #expect(values["lassoboot_tasks{state=\"leased\"}"] == 3)
            let status = try await service.list().runs[0]
            #expect(values["lassoboot_tasks{state=\"queued\"}"] == Double(status.tasks.queued))
            #expect(values["lassoboot_queue_depth"] == Double(status.tasks.queued))
            #expect(values["lassoboot_runs{state=\"running\"}"] == 1)
            #expect(values["lassoboot_workers_alive"] == 1)
            // Scraping again adds nothing: counters are carried over as differences.
            let again = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer client-token"])
            #expect(text(again).contains("lassoboot_leases_issued_total 3\n"))
            // A run's facts fragment shows the same counts (the page's refresh swaps it in).
            let facts = try await client.execute(
                uri: "/fragments/runs/\(status.id)/facts", method: .get, headers: [.authorization: "Bearer client-token"])
            #expect(facts.status == .ok && text(facts).contains("<span id=\"tasks-leased\">3</span>"), "\(text(facts))")
            #expect(text(facts).contains("<span id=\"tasks-queued\">\(status.tasks.queued)</span>"))
        }
    }

    /// `(METHOD, /path/{param})` of every operation in the committed document.
    static func documentOperations() throws -> (Set<String>, [String: Any]) {
        let data = try Data(contentsOf: root.appendingPathComponent("Sources/Coordinator/openapi.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        var ops = Set<String>()
        for (path, item) in paths {
            for method in item.keys where ["get", "put", "post", "delete", "head", "patch"].contains(method) {
                ops.insert("\(method.uppercased()) \(path)")
            }
        }
        return (ops, doc)
    }

    @Test("the committed OpenAPI document is what /openapi.json serves and lists exactly the router's endpoints")
    func openAPIInStep() async throws {
        let (app, _, router) = try app()
        let (documented, doc) = try Self.documentOperations()
        #expect(doc["openapi"] as? String == "3.1.0")
        var routed = Set<String>()
        for route in router.routes {
            // Hummingbird writes captures as ":id"; OpenAPI as "{id}".
            let path =
                "/"
                + route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                .joined(separator: "/")
            routed.insert("\(route.method.rawValue) \(path)")
        }
        #expect(routed.count >= 20, "the router lists its routes: \(routed.sorted())")
        #expect(routed.subtracting(documented).isEmpty, "routes missing from openapi.json: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
        // Every operation that needs a token documents the 401.
        let paths = doc["paths"] as! [String: [String: Any]]
        for (path, item) in paths {
            for (method, value) in item {
                guard let op = value as? [String: Any], let responses = op["responses"] as? [String: Any] else { continue }
                let security = op["security"] as? [Any]
                if security?.isEmpty == false { #expect(responses["401"] != nil, "\(method) \(path) lacks its 401") }
            }
        }
        // Every $ref resolves.
        let text = String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)
        let components = doc["components"] as! [String: [String: Any]]
        let regex = try Regex(#"#/components/(\w+)/(\w+)"#)
        for match in text.matches(of: regex) {
            let kind = String(match.output[1].substring!), name = String(match.output[2].substring!)
            #expect(components[kind]?[name] != nil, "unresolved $ref #/components/\(kind)/\(name)")
        }
        let committed = try Data(contentsOf: Self.root.appendingPathComponent("Sources/Coordinator/openapi.json"))
        try await app.test(.router) { client in
            let anonymous = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(anonymous.status == .unauthorized, "like every endpoint but /healthz, the document needs the client token")
            let served = try await client.execute(uri: "/openapi.json", method: .get, headers: [.authorization: "Bearer client-token"])
            #expect(served.status == .ok)
            #expect(Data(served.body.readableBytesView) == committed)
        }
    }

    @Test("the DTOs encode to the properties the OpenAPI document declares")
    func schemasMatchDTOs() throws {
        let (_, doc) = try Self.documentOperations()
        let schemas = (doc["components"] as! [String: Any])["schemas"] as! [String: [String: Any]]
        func check<T: Encodable>(_ name: String, _ value: T) throws {
            let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
            let schema = try #require(schemas[name], "no schema \(name)")
            let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
            let required = Set(schema["required"] as? [String] ?? [])
            let keys = Set(object.keys)
            #expect(keys.isSubset(of: properties), "\(name): undocumented keys \(keys.subtracting(properties).sorted())")
            #expect(required.isSubset(of: keys), "\(name): required but not sent \(required.subtracting(keys).sorted())")
        }
        let counts = Wire.TaskCounts(queued: 1, leased: 2, done: 3, failed: 0)
        let status = Wire.RunStatus(
            id: "r", name: "n", state: .done, phase: 2, tasks: counts, resamplesDone: 5, resamples: 5, error: "e",
            created: 1, finished: 2, dataset: "d")
        try check("TaskCounts", counts)
        try check("RunStatus", status)
        try check("WorkerInfo", Wire.WorkerInfo(id: "w", host: "h", threads: 2, tasksDone: 3, lastSeen: 4))
        try check("RunList", Wire.RunList(runs: [status], workers: []))
        try check("CreateRun", Wire.CreateRun(spec: "{}", dataset: "d", dataName: "x.csv", resampleIndices: "i"))
        try check("LeaseRequest", Wire.LeaseRequest(worker: "w", host: "h", threads: 1, max: 2, wait: 1))
        try check(
            "LeasedTask",
            Wire.LeasedTask(
                run: "r", key: .bootstrap(start: 0, end: 5), lease: "l", dataset: "d",
                input: try JSONDecoder().decode(PhaseTwoInput.self, from: Data(#"{"alphas": [0.1]}"#.utf8))))
        try check("Heartbeat", Wire.Heartbeat(worker: "w", leases: ["l"]))
        try check("HeartbeatResponse", Wire.HeartbeatResponse(valid: ["l"]))
        try check(
            "Submission",
            Wire.Submission(
                worker: "w", run: "r", key: .cv(outcome: 0, fold: 1), lease: "l", dataset: "d",
                result: .cv(scores: [0.5], failures: [nil], heldOutWeight: 1), error: "x", released: false, seconds: 0.1))
        try check("SubmissionResponse", Wire.SubmissionResponse(status: .accepted))
        try check("RunContext", Wire.RunContext(run: "r", spec: "{}", dataset: "d", resampleIndices: nil))
        try check("Error", Wire.ErrorBody(error: "e"))
    }
}
