import Analysis
import CoordinatorAPI
import Foundation
import Hummingbird
import NIOCore
import Store
import Tabular

/// The coordinator's HTTP API (`/v1`), over a ``CoordinatorService``.
extension ServiceError.Kind {
    /// The HTTP status the API answers this refusal with (the only place service errors meet HTTP).
    public var httpStatus: Int {
        switch self {
        case .invalid: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .tooLarge: return 413
        case .unprocessable: return 422
        case .internalFailure: return 500
        case .unavailable: return 503
        case .storageFull: return 507
        }
    }
}

public enum CoordinatorHTTP {
    static let decoder = JSONDecoder()
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func jsonBytes(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ s: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func error(_ status: Int, _ message: String) -> Response {
        json(Wire.ErrorBody(error: message), status: HTTPResponse.Status(code: status))
    }

    static func body(_ request: Request, limit: Int) async throws -> Data {
        // Refuse a declared oversized body before reading any of it (nothing is buffered).
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw ServiceError(.tooLarge, "request body larger than \(limit) bytes")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch {
            throw ServiceError(.tooLarge, "request body larger than \(limit) bytes")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        try decode(T.self, try await body(request, limit: limit))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do {
            return try decoder.decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ServiceError(.invalid, "malformed \(T.self): missing key '\(key.stringValue)' at \(path(ctx.codingPath))")
        } catch let DecodingError.typeMismatch(t, ctx) {
            throw ServiceError(.invalid, "malformed \(T.self): expected \(t) at \(path(ctx.codingPath))")
        } catch let DecodingError.valueNotFound(t, ctx) {
            throw ServiceError(.invalid, "malformed \(T.self): missing \(t) at \(path(ctx.codingPath))")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ServiceError(.invalid, "malformed \(T.self): \(ctx.debugDescription) at \(path(ctx.codingPath))")
        } catch {
            throw ServiceError(.invalid, "malformed \(T.self): \(error)")
        }
    }

    static func path(_ codingPath: [CodingKey]) -> String {
        codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    /// The client token from the dashboard's cookie, if any.
    static func cookieToken(_ request: Request) -> String? {
        request.cookies[Dashboard.cookieName]?.value.removingPercentEncoding
    }

    /// Whether a request may proceed: the bearer header, or (for read-only client views) the
    /// dashboard's cookie holding the client token.
    static func authorized(_ tokens: Tokens?, _ scope: Tokens.Scope, _ request: Request, cookie: Bool) -> Bool {
        guard let tokens else { return true }
        if tokens.allows(request.headers[.authorization], scope) { return true }
        if cookie, scope == .client, let token = cookieToken(request) { return tokens.allows("Bearer " + token, .client) }
        return false
    }

    /// The router with every endpoint.
    /// - Parameter allowAnonymous: serve without checking tokens (loopback development only).
    public static func router(
        service: CoordinatorService, tokens: Tokens, allowAnonymous: Bool = false,
        limits: BodyLimits = BodyLimits(), maxLeaseWait: Double = 20,
        metrics: CoordinatorMetrics = CoordinatorMetrics(), secureCookies: Bool = false
    ) -> Router<BasicRequestContext> {
        let tokens: Tokens? = allowAnonymous ? nil : tokens
        let router = Router()
        router.get("healthz") { _, _ in text("ok\n") }
        // Every other route: domain errors become JSON error responses here, and each group
        // admits its callers (the cookie only for read-only client views, so a cross-site form
        // can never change state with it).
        let api = router.group().add(middleware: ServiceErrorMiddleware())
        let client = api.group().add(middleware: TokenMiddleware(tokens: tokens, scope: .client))
        let clientReads = api.group().add(middleware: TokenMiddleware(tokens: tokens, scope: .client, cookie: true))
        let workers = api.group().add(middleware: TokenMiddleware(tokens: tokens, scope: .worker))
        let shared = api.group().add(middleware: TokenMiddleware(tokens: tokens, scope: .either))
        clientReads.get("openapi.json") { request, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        client.get("metrics") { request, _ in
            let snapshot = await service.metricsSnapshot(aliveWithin: metrics.aliveWithin)
            return text(metrics.render(snapshot), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        client.put("v1/datasets/:hash") { request, context in
            let hash = context.parameters.get("hash") ?? ""
            let tooLarge = ServiceError(.tooLarge, "dataset larger than this coordinator's limit of \(limits.dataset) bytes (--max-dataset-bytes)")
            // Refused before reading when the announced length is already too much.
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limits.dataset { throw tooLarge }
            // Streamed into the store in pieces, hashed on the way: never held whole.
            let upload = UUID().uuidString
            let stored: (hash: String, created: Bool)
            do {
                var hasher = SHA256()
                var piece = Data()
                piece.reserveCapacity(limits.uploadPiece)
                var size = 0, index = 0
                for try await buffer in request.body {
                    size += buffer.readableBytes
                    if size > limits.dataset { throw tooLarge }
                    var rest = buffer
                    while rest.readableBytes > 0 {
                        let take = min(rest.readableBytes, limits.uploadPiece - piece.count)
                        rest.readWithUnsafeReadableBytes { raw in
                            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<take])
                            hasher.update(buffer: bytes.bindMemory(to: UInt8.self))
                            piece.append(contentsOf: bytes)
                            return take
                        }
                        if piece.count == limits.uploadPiece {
                            try await service.putUploadPiece(upload: upload, index: index, bytes: piece)
                            index += 1
                            piece.removeAll(keepingCapacity: true)
                        }
                    }
                }
                if !piece.isEmpty || index == 0 { try await service.putUploadPiece(upload: upload, index: index, bytes: piece) }
                stored = try await service.finishUpload(upload: upload, hash: hasher.finalizeHex(), size: size, expectedHash: hash)
            } catch let e as ServiceError {
                await service.abandonUpload(upload)
                throw e
            } catch {
                await service.abandonUpload(upload)
                // A store failure is an answer, never a crash: 507 when the disk is full.
                let text = "\(error)"
                let full = text.contains("SQLITE_FULL") || text.localizedCaseInsensitiveContains("disk is full")
                throw ServiceError(full ? .storageFull : .internalFailure, "could not store the dataset: \(text)")
            }
            return json(["hash": stored.hash, "created": stored.created ? "true" : "false"], status: stored.created ? .created : .ok)
        }
        shared.head("v1/datasets/:hash") { request, context in
            let exists = try await service.hasDataset(context.parameters.get("hash") ?? "")
            return Response(status: exists ? .ok : .notFound)
        }
        shared.get("v1/datasets/:hash") { request, context in
            let bytes = try await service.dataset(context.parameters.get("hash") ?? "")
            return Response(status: .ok, headers: [.contentType: "text/csv"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        client.post("v1/runs") { request, _ in
            let create = try await decode(Wire.CreateRun.self, request, limit: limits.json)
            return json(try await service.createRun(create), status: .created)
        }
        clientReads.get("v1/runs") { request, _ in
            json(try await service.list())
        }
        clientReads.get("v1/runs/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            // ?wait=SECONDS: a long poll, answered as soon as a running run changes phase or ends.
            if let text = request.uri.queryParameters.get("wait") {
                guard let wait = Double(text), wait >= 0, wait.isFinite else { throw ServiceError(.invalid, "wait must be a number of seconds >= 0") }
                return json(try await service.status(id, waitingUpTo: min(wait, maxLeaseWait)))
            }
            return json(try await service.status(id))
        }
        client.delete("v1/runs/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            try await service.deleteRun(id)
            return json(["deleted": id])
        }
        client.delete("v1/datasets/:hash") { request, context in
            let hash = context.parameters.get("hash") ?? ""
            try await service.deleteDataset(hash)
            return json(["deleted": hash])
        }
        client.post("v1/runs/:id/cancel") { request, context in
            json(try await service.cancel(context.parameters.get("id") ?? ""))
        }
        clientReads.get("v1/runs/:id/report") { request, context in
            let id = context.parameters.get("id") ?? ""
            let format = request.uri.queryParameters.get("format") ?? "json"
            if format == "replicates" { return text(try await service.replicatesCSV(id), contentType: "text/csv") }
            if format == "model" { return text(try await service.modelJSON(id), contentType: "application/vnd.lassoboot.model+json") }
            let report = try await service.report(id)
            switch format {
            case "json": return text(Render.json(report), contentType: "application/json")
            case "csv": return text(Render.csv(report), contentType: "text/csv")
            case "cv": return text(Render.cvCSV(report), contentType: "text/csv")
            case "markdown": return text(Render.markdown(report), contentType: "text/markdown")
            case "text", "table": return text(Render.text(report))
            case "html": return text(Render.html(report), contentType: "text/html; charset=utf-8")
            case "fragment": return text(Render.htmlFragment(report), contentType: "text/html; charset=utf-8")
            default:
                throw ServiceError(.invalid, "unknown format '\(format)': use json, csv, markdown, text, cv, html, fragment, replicates or model")
            }
        }
        workers.get("v1/runs/:id/context") { request, context in
            json(try await service.context(context.parameters.get("id") ?? ""))
        }
        // The two requests of every task (lease, result) read and write their JSON by hand
        // (Wire fast paths, byte-identical to JSONEncoder; anything unusual goes to JSONDecoder).
        workers.post("v1/lease") { request, _ in
            let data = try await body(request, limit: limits.json)
            let lease = try Wire.LeaseRequest.fastDecode(data) ?? decode(Wire.LeaseRequest.self, data)
            try WorkerIdentity.validate(worker: lease.worker, host: lease.host, threads: lease.threads)
            let tasks = try await service.lease(lease, maxWait: maxLeaseWait)
            // With the runs still running, so the worker drops the preparations of the others.
            return jsonBytes(try Wire.LeaseResponse(tasks: tasks, running: await service.runningRunIDs()).jsonBytes())
        }
        workers.post("v1/heartbeat") { request, _ in
            let h = try await decode(Wire.Heartbeat.self, request, limit: limits.json)
            return json(Wire.HeartbeatResponse(valid: try await service.heartbeat(h)))
        }
        workers.post("v1/results") { request, _ in
            let data = try await body(request, limit: limits.json)
            let s = try Wire.Submission.fastDecode(data) ?? decode(Wire.Submission.self, data)
            try WorkerIdentity.validate(worker: s.worker)
            let status = try await service.submit(s)
            if status == .accepted, let seconds = s.seconds { metrics.recordFit(seconds: seconds) }
            // {"status": one of a few fixed words}: as JSONEncoder writes it.
            return jsonBytes(Data("{\"status\":\"\(status.rawValue)\"}".utf8))
        }
        addDashboard(router, service: service, tokens: tokens, secureCookies: secureCookies)
        return router
    }
}
