import Analysis
import CoordinatorAPI
import Foundation
import Hummingbird
import NIOCore
import Store
import Tabular

// The web pages: login, the run list, a run's page with its report (same tokens as the API).

extension CoordinatorHTTP {
    static func html(_ s: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers[.init("Content-Security-Policy")!] =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    /// A local path to return to after signing in (never another site).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"),
            next.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7f })
        else { return "/" }
        return next
    }

    /// `/`, `/runs/{id}` and `/login`: the dashboard, read-only, behind the client token.
    /// - Parameter secureCookies: mark the cookie `Secure` (served over HTTPS).
    static func addDashboard(_ router: Router<BasicRequestContext>, service: CoordinatorService, tokens: Tokens?, secureCookies: Bool) {
        @Sendable func view(_ request: Request, _ make: () async throws -> String) async -> Response {
            guard authorized(tokens, .client, request, cookie: true) else {
                return html(Dashboard.login(next: request.uri.path, failed: false), status: .unauthorized)
            }
            do {
                return html(try await make())
            } catch let e as ServiceError {
                return html(
                    Dashboard.page(
                        title: "lassoboot: error",
                        body:
                            "<h1>Error \(e.kind.httpStatus)</h1><p class=\"error\">\(Dashboard.escape(e.message))</p><p><a href=\"/\">all runs</a></p>"
                    ),
                    status: HTTPResponse.Status(code: e.kind.httpStatus))
            } catch {
                return html(
                    Dashboard.page(title: "lassoboot: error", body: "<h1>Internal error</h1><p class=\"error\">\(Dashboard.escape("\(error)"))</p>"),
                    status: .internalServerError)
            }
        }
        router.get("/") { request, _ in
            await view(request) { Dashboard.overview(try await service.list(), now: Date().timeIntervalSince1970) }
        }
        router.get("runs/:id") { request, context in
            await view(request) {
                let id = context.parameters.get("id") ?? ""
                let status = try await service.status(id)
                let report = status.state == .done ? try await service.report(id) : nil
                return Dashboard.run(status, workers: try await service.list().workers, report: report, now: Date().timeIntervalSince1970)
            }
        }
        // The tables and a run's facts as HTML fragments, for the pages' refresh (the same
        // renderers as the pages: the browser only swaps them in).
        @Sendable func fragment(_ request: Request, _ make: () async throws -> String) async -> Response {
            guard authorized(tokens, .client, request, cookie: true) else { return CoordinatorHTTP.error(401, "sign in at /login") }
            do {
                return html(try await make())
            } catch let e as ServiceError {
                return CoordinatorHTTP.error(e.kind.httpStatus, e.message)
            } catch {
                return CoordinatorHTTP.error(500, "\(error)")
            }
        }
        router.get("fragments/runs") { request, _ in
            await fragment(request) { Dashboard.runsTable(try await service.list().runs) }
        }
        router.get("fragments/workers") { request, _ in
            await fragment(request) { Dashboard.workersTable(try await service.list().workers, now: Date().timeIntervalSince1970) }
        }
        router.get("fragments/runs/:id/facts") { request, context in
            await fragment(request) { Dashboard.runFacts(try await service.status(context.parameters.get("id") ?? "")) }
        }
        router.get("login") { request, _ in
            html(Dashboard.login(next: safeNext(request.uri.queryParameters.get("next").map { String($0) }), failed: false))
        }
        router.post("login") { request, _ in
            let bytes: Data
            do { bytes = try await body(request, limit: 64 << 10) } catch {
                return CoordinatorHTTP.error(413, "request body larger than 65536 bytes")
            }
            // Parsed by hand: Foundation's URLComponents traps on some malformed percent-encoding.
            guard let items = formFields(bytes) else {
                return CoordinatorHTTP.error(
                    400, "malformed form body: expected name=value pairs in application/x-www-form-urlencoded percent-encoding")
            }
            let token = items.first { $0.name == "token" }?.value ?? ""
            let next = safeNext(items.first { $0.name == "next" }?.value)
            if let tokens, !tokens.allows("Bearer " + token, .client) {
                return html(Dashboard.login(next: next, failed: true), status: .unauthorized)
            }
            // Percent-encoded, so any token is a valid cookie value.
            let value = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            var response = Response(status: .seeOther, headers: [.location: next])
            response.setCookie(
                Cookie(
                    name: Dashboard.cookieName, value: value, maxAge: 2_592_000, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("logout") { _, _ in
            var response = Response(status: .seeOther, headers: [.location: "/login"])
            response.setCookie(
                Cookie(name: Dashboard.cookieName, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
    }
}
