import Foundation
import Hummingbird
import Store

// What every route needs from a request: who may call it (tokens, the dashboard cookie), how
// large its body may be, and how a form body decodes.

/// Bearer tokens: one for clients (submit, status, results), one for workers (lease, results,
/// datasets). The same token may serve both.
public struct Tokens: Sendable {
    public let client: String
    public let worker: String
    public init(client: String, worker: String) {
        self.client = client
        self.worker = worker
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }

    enum Scope { case client, worker, either }

    /// The token of an `Authorization: Bearer <token>` header; the scheme is matched without
    /// regard to case and may be followed by several spaces (RFC 7235).
    static func bearerToken(_ header: String) -> String? {
        let utf8 = Array(header.utf8)
        let scheme = Array("bearer".utf8)
        guard utf8.count > scheme.count, utf8[scheme.count] == UInt8(ascii: " "),
            zip(utf8, scheme).allSatisfy({ ($0 | 0x20) == $1 })
        else { return nil }
        var start = scheme.count
        while start < utf8.count, utf8[start] == UInt8(ascii: " ") { start += 1 }
        return String(decoding: utf8[start...], as: UTF8.self)
    }

    func allows(_ header: String?, _ scope: Scope) -> Bool {
        guard let header, let token = Self.bearerToken(header) else { return false }
        // Evaluate both comparisons so timing does not reveal which token matched.
        let c = Self.equal(token, client), w = Self.equal(token, worker)
        switch scope {
        case .client: return c
        case .worker: return w
        case .either: return c || w
        }
    }
}

/// Limits on request bodies.
public struct BodyLimits: Sendable {
    /// The largest dataset upload any coordinator accepts (1 TiB): datasets are stored in pieces,
    /// so this is a sanity bound, not SQLite's blob limit.
    public static let datasetCeiling = 1 << 40
    /// Largest dataset upload, in bytes (at most ``datasetCeiling``); larger ones get 413. Workers
    /// hold a run's dataset in memory while preparing it, so this is also a memory bound.
    public var dataset: Int = 4 << 30
    /// Largest JSON request body, in bytes.
    public var json: Int = 64 << 20
    /// Dataset uploads are stored as they arrive, in pieces of this many bytes.
    public var uploadPiece: Int = SQLiteStore.pieceBytes
    /// - Parameters:
    ///   - dataset: largest dataset upload in bytes (clamped to ``datasetCeiling``).
    ///   - json: largest JSON body in bytes.
    public init(dataset: Int = 4 << 30, json: Int = 64 << 20) {
        self.dataset = min(dataset, Self.datasetCeiling)
        self.json = json
    }
}

/// Bytes that may stand unencoded in a URL query (RFC 3986: unreserved, sub-delims, `:@/?`).
private let queryByte: [Bool] = (0..<256).map { b in
    let c = UInt8(b)
    switch c {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
    default: return Array("-._~!$&'()*,;=:@/?".utf8).contains(c)
    }
}

/// An `application/x-www-form-urlencoded` body as name/value pairs, or nil if it is not valid
/// percent-encoding: a `%` not followed by two hex digits, a byte that must be encoded but is
/// not (a space, a backslash, quotes, controls, non-ASCII), or decoded bytes that are not UTF-8.
/// Never traps, whatever the bytes.
func formFields(_ bytes: Data) -> [(name: String, value: String)]? {
    func decode(_ part: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(part.count)
        var i = part.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while i < part.endIndex {
            let c = part[i]
            switch c {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
                i += 1
            case UInt8(ascii: "%"):
                guard i + 2 < part.endIndex, let hi = hex(part[i + 1]), let lo = hex(part[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            case _ where queryByte[Int(c)]:
                out.append(c)
                i += 1
            default:
                return nil  // a space, a backslash, a quote, a control or non-ASCII byte: not encoded
            }
        }
        return String(validating: out, as: UTF8.self)
    }
    var fields: [(name: String, value: String)] = []
    for pair in Array(bytes).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
        let eq = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
        guard let name = decode(pair[pair.startIndex..<eq]),
            let value = decode(eq < pair.endIndex ? pair[(eq + 1)...] : [])
        else { return nil }
        fields.append((name, value))
    }
    return fields
}

/// Admits a request carrying the scope's bearer token (or, with `cookie`, the dashboard's cookie
/// holding the client token); any other gets 401 before its body is read.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    /// `nil`: anonymous access (loopback development only).
    let tokens: Tokens?
    let scope: Tokens.Scope
    var cookie = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard CoordinatorHTTP.authorized(tokens, scope, request, cookie: cookie) else {
            return CoordinatorHTTP.error(401, "missing or wrong bearer token")
        }
        return try await next(request, context)
    }
}

/// The one place service errors meet HTTP: a ``ServiceError`` becomes its kind's status with a
/// JSON body, anything else a 500 that names it (never a 5xx for bad input: that is a ServiceError).
struct ServiceErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as ServiceError {
            return CoordinatorHTTP.error(e.kind.httpStatus, e.message)
        } catch {
            return CoordinatorHTTP.error(500, "internal error: \(error)")
        }
    }
}
