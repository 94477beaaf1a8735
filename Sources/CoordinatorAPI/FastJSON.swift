import Foundation
import Plan

// Hand-written JSON for the hot path of the coordinator protocol (a lease and a result per task):
// Foundation's JSONEncoder/JSONDecoder cost tens of microseconds per body through their generic
// containers, which was a third of the coordinator's CPU per round trip.
//
// The writer produces exactly the bytes JSONEncoder with `.sortedKeys` produces for the same
// values (tests compare them), so nothing on the wire or in the store changes. The reader accepts
// a strict subset of JSON and returns nil for anything else (unusual numbers, duplicate keys,
// bad escapes, wrong types...); callers then fall back to JSONDecoder, which decides and words the
// error. So the fast path never accepts what JSONDecoder would refuse, nor reads it differently.

/// JSON text built byte by byte.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public var data: Data { Data(bytes) }

    @inline(__always) public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func int(_ v: Int) { bytes.append(contentsOf: String(v).utf8) }

    /// A finite Double as JSONEncoder writes it (shortest round-trip form, no trailing ".0").
    public mutating func double(_ v: Double) throws {
        guard v.isFinite else { throw EncodingError.invalidValue(v, .init(codingPath: [], debugDescription: "non-finite number \(v)")) }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        bytes.append(contentsOf: s.utf8)
    }

    public mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    /// A string with JSONEncoder's escapes (including `\/`).
    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "/"): raw("\\/")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                raw("\\u00")
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 15)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func ints(_ values: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            int(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func doubles(_ values: [Double]) throws {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            try double(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

extension TaskKey {
    /// `{"bootstrap":{"end":25,"start":0}}`: JSONEncoder's form with sorted keys.
    public func writeJSON(to w: inout JSONWriter) {
        switch self {
        case let .cv(o, f):
            w.raw("{\"cv\":{\"fold\":"); w.int(f); w.raw(",\"outcome\":"); w.int(o); w.raw("}}")
        case let .estimate(o):
            w.raw("{\"estimate\":{\"outcome\":"); w.int(o); w.raw("}}")
        case let .bootstrap(s, e):
            w.raw("{\"bootstrap\":{\"end\":"); w.int(e); w.raw(",\"start\":"); w.int(s); w.raw("}}")
        case let .jackknife(o, s, e):
            w.raw("{\"jackknife\":{\"end\":"); w.int(e); w.raw(",\"outcome\":"); w.int(o); w.raw(",\"start\":"); w.int(s); w.raw("}}")
        case let .stability(s, e):
            w.raw("{\"stability\":{\"end\":"); w.int(e); w.raw(",\"start\":"); w.int(s); w.raw("}}")
        case let .nodewise(o, s, e):
            w.raw("{\"nodewise\":{\"end\":"); w.int(e); w.raw(",\"outcome\":"); w.int(o); w.raw(",\"start\":"); w.int(s); w.raw("}}")
        }
    }

    /// The key as JSON text (what the store uses as its column value).
    public var jsonText: String {
        var w = JSONWriter(capacity: 48)
        writeJSON(to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    init?(json v: FastJSON.Value) {
        guard case let .object(o) = v, o.count == 1 else { return nil }
        let (name, body) = o[0]
        guard case let .object(fields) = body else { return nil }
        func int(_ k: String) -> Int? { FastJSON.field(fields, k).flatMap(\.int) }
        switch name {
        case "cv": guard let o = int("outcome"), let f = int("fold") else { return nil }; self = .cv(outcome: o, fold: f)
        case "estimate": guard let o = int("outcome") else { return nil }; self = .estimate(outcome: o)
        case "bootstrap": guard let s = int("start"), let e = int("end") else { return nil }; self = .bootstrap(start: s, end: e)
        case "jackknife":
            guard let o = int("outcome"), let s = int("start"), let e = int("end") else { return nil }
            self = .jackknife(outcome: o, start: s, end: e)
        case "stability": guard let s = int("start"), let e = int("end") else { return nil }; self = .stability(start: s, end: e)
        case "nodewise":
            guard let o = int("outcome"), let s = int("start"), let e = int("end") else { return nil }
            self = .nodewise(outcome: o, start: s, end: e)
        default: return nil
        }
    }
}

extension FitOutcome {
    func writeJSON(to w: inout JSONWriter) throws {
        switch self {
        case let .coefficients(c): w.raw("{\"coefficients\":{\"_0\":"); try w.doubles(c); w.raw("}}")
        case let .failed(cause): w.raw("{\"failed\":{\"_0\":"); w.string(cause); w.raw("}}")
        }
    }

    init?(json v: FastJSON.Value) {
        guard case let .object(o) = v, o.count == 1, case let .object(fields) = o[0].1,
              let payload = FastJSON.field(fields, "_0") else { return nil }
        switch o[0].0 {
        case "coefficients": guard let c = payload.doubles else { return nil }; self = .coefficients(c)
        case "failed": guard case let .string(s) = payload else { return nil }; self = .failed(s)
        default: return nil
        }
    }
}

extension TaskResult {
    /// The canonical bytes of a result (what the coordinator stores and compares duplicates
    /// by): identical to `JSONEncoder` with `.sortedKeys`. Throws on a non-finite number.
    public func canonicalJSON() throws -> Data {
        var w = JSONWriter(capacity: 512)
        try writeJSON(to: &w)
        return w.data
    }

    public func writeJSON(to w: inout JSONWriter) throws {
        switch self {
        case let .cv(scores, failures, weight):
            w.raw("{\"cv\":{\"failures\":[")
            for (i, f) in failures.enumerated() {
                if i > 0 { w.raw(",") }
                if let f { w.string(f) } else { w.raw("null") }
            }
            w.raw("],\"heldOutWeight\":"); try w.double(weight); w.raw(",\"scores\":[")
            for (i, s) in scores.enumerated() {
                if i > 0 { w.raw(",") }
                if let s { try w.double(s) } else { w.raw("null") }
            }
            w.raw("]}}")
        case let .estimate(fit, kkt, iterations):
            w.raw("{\"estimate\":{\"_0\":"); try fit.writeJSON(to: &w)
            w.raw(",\"iterations\":"); w.int(iterations); w.raw(",\"kktViolation\":"); try w.double(kkt); w.raw("}}")
        case let .bootstrap(fits, chosen, debiased):
            func rows(_ rows: [[FitOutcome]], _ w: inout JSONWriter) throws {
                w.raw("[")
                for (i, row) in rows.enumerated() {
                    if i > 0 { w.raw(",") }
                    w.raw("[")
                    for (j, f) in row.enumerated() {
                        if j > 0 { w.raw(",") }
                        try f.writeJSON(to: &w)
                    }
                    w.raw("]")
                }
                w.raw("]")
            }
            w.raw("{\"bootstrap\":{")
            if let chosen {
                w.raw("\"chosenAlphas\":[")
                for (i, row) in chosen.enumerated() {
                    if i > 0 { w.raw(",") }
                    try w.doubles(row)
                }
                w.raw("],")
            }
            if let debiased {
                w.raw("\"debiased\":")
                try rows(debiased, &w)
                w.raw(",")
            }
            w.raw("\"fits\":")
            try rows(fits, &w)
            w.raw("}}")
        case let .jackknife(fits):
            w.raw("{\"jackknife\":{\"fits\":[")
            for (i, f) in fits.enumerated() {
                if i > 0 { w.raw(",") }
                try f.writeJSON(to: &w)
            }
            w.raw("]}}")
        case let .nodewise(lambdas, features):
            w.raw("{\"nodewise\":{\"features\":[")
            for (i, row) in features.enumerated() {
                if i > 0 { w.raw(",") }
                try w.doubles(row)
            }
            w.raw("],\"lambdas\":"); try w.doubles(lambdas); w.raw("}}")
        case let .stability(selected):
            w.raw("{\"stability\":{\"selected\":[")
            for (i, half) in selected.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("[")
                for (j, set) in half.enumerated() {
                    if j > 0 { w.raw(",") }
                    if let set { w.ints(set) } else { w.raw("null") }
                }
                w.raw("]")
            }
            w.raw("]}}")
        }
    }

    /// Reads a result on the fast path; nil means "let JSONDecoder decide".
    public static func fastDecode(_ data: Data) -> TaskResult? {
        FastJSON.parse(data).flatMap(TaskResult.init(json:))
    }

    init?(json v: FastJSON.Value) {
        guard case let .object(o) = v, o.count == 1, case let .object(fields) = o[0].1 else { return nil }
        func fits(_ v: FastJSON.Value?) -> [FitOutcome]? {
            guard case let .array(a)? = v else { return nil }
            var out: [FitOutcome] = []
            out.reserveCapacity(a.count)
            for x in a { guard let f = FitOutcome(json: x) else { return nil }; out.append(f) }
            return out
        }
        switch o[0].0 {
        case "cv":
            guard case let .array(s)? = FastJSON.field(fields, "scores"), case let .array(f)? = FastJSON.field(fields, "failures"),
                  let weight = FastJSON.field(fields, "heldOutWeight")?.double else { return nil }
            var scores: [Double?] = [], failures: [String?] = []
            for x in s {
                if case .null = x { scores.append(nil) } else if let d = x.double { scores.append(d) } else { return nil }
            }
            for x in f {
                switch x {
                case .null: failures.append(nil)
                case let .string(t): failures.append(t)
                default: return nil
                }
            }
            self = .cv(scores: scores, failures: failures, heldOutWeight: weight)
        case "estimate":
            guard let fitValue = FastJSON.field(fields, "_0"), let fit = FitOutcome(json: fitValue),
                  let kkt = FastJSON.field(fields, "kktViolation")?.double, let it = FastJSON.field(fields, "iterations")?.int else { return nil }
            self = .estimate(fit, kktViolation: kkt, iterations: it)
        case "bootstrap":
            func table(_ v: FastJSON.Value?) -> [[FitOutcome]]? {
                guard case let .array(rows)? = v else { return nil }
                var all: [[FitOutcome]] = []
                all.reserveCapacity(rows.count)
                for r in rows { guard let f = fits(r) else { return nil }; all.append(f) }
                return all
            }
            guard let all = table(FastJSON.field(fields, "fits")) else { return nil }
            var debiased: [[FitOutcome]]?
            switch FastJSON.field(fields, "debiased") {
            case nil, .null?: debiased = nil
            case let d?: guard let t = table(d) else { return nil }; debiased = t
            }
            var chosen: [[Double]]?
            switch FastJSON.field(fields, "chosenAlphas") {
            case nil, .null?: chosen = nil
            case let .array(a)?:
                var c: [[Double]] = []
                for x in a { guard let d = x.doubles else { return nil }; c.append(d) }
                chosen = c
            default: return nil
            }
            self = .bootstrap(fits: all, chosenAlphas: chosen, debiased: debiased)
        case "jackknife":
            guard let f = fits(FastJSON.field(fields, "fits")) else { return nil }
            self = .jackknife(fits: f)
        case "nodewise":
            guard case let .array(rows)? = FastJSON.field(fields, "features"), let lambdas = FastJSON.field(fields, "lambdas")?.doubles else { return nil }
            var features: [[Double]] = []
            for r in rows { guard let d = r.doubles else { return nil }; features.append(d) }
            self = .nodewise(lambdas: lambdas, features: features)
        case "stability":
            guard case let .array(halves)? = FastJSON.field(fields, "selected") else { return nil }
            var all: [[[Int]?]] = []
            for h in halves {
                guard case let .array(sets) = h else { return nil }
                var row: [[Int]?] = []
                for x in sets {
                    switch x {
                    case .null: row.append(nil)
                    case let .array(items):
                        var set: [Int] = []
                        for i in items { guard let v = i.int else { return nil }; set.append(v) }
                        row.append(set)
                    default: return nil
                    }
                }
                all.append(row)
            }
            self = .stability(selected: all)
        default: return nil
        }
    }
}

extension Wire.Submission {
    /// This submission as JSONEncoder (`.sortedKeys`) would write it.
    public func jsonBytes() throws -> Data {
        var w = JSONWriter(capacity: 512)
        w.raw("{\"dataset\":"); w.string(dataset)
        if let error { w.raw(",\"error\":"); w.string(error) }
        w.raw(",\"key\":"); key.writeJSON(to: &w)
        w.raw(",\"lease\":"); w.string(lease)
        if let released { w.raw(",\"released\":"); w.bool(released) }
        if let result { w.raw(",\"result\":"); try result.writeJSON(to: &w) }
        w.raw(",\"run\":"); w.string(run)
        if let seconds { w.raw(",\"seconds\":"); try w.double(seconds) }
        if let started { w.raw(",\"started\":"); FastJSON.writeStrings(started, to: &w) }
        w.raw(",\"worker\":"); w.string(worker)
        w.raw("}")
        return w.data
    }

    /// Decodes a submission on the fast path; nil means "let JSONDecoder decide".
    public static func fastDecode(_ data: Data) -> Wire.Submission? {
        guard case let .object(o)? = FastJSON.parse(data) else { return nil }
        guard case let .string(worker)? = FastJSON.field(o, "worker"), case let .string(run)? = FastJSON.field(o, "run"),
              let keyValue = FastJSON.field(o, "key"), let key = TaskKey(json: keyValue),
              case let .string(lease)? = FastJSON.field(o, "lease"), case let .string(dataset)? = FastJSON.field(o, "dataset") else { return nil }
        var result: TaskResult?
        switch FastJSON.field(o, "result") {
        case nil, .null?: result = nil
        case let v?: guard let r = TaskResult(json: v) else { return nil }; result = r
        }
        guard let error = FastJSON.optionalString(FastJSON.field(o, "error")),
              let released = FastJSON.optionalBool(FastJSON.field(o, "released")),
              let started = FastJSON.optionalStrings(FastJSON.field(o, "started")) else { return nil }
        var seconds: Double?
        switch FastJSON.field(o, "seconds") {
        case nil, .null?: seconds = nil
        case let v?: guard let d = v.double else { return nil }; seconds = d
        }
        return Wire.Submission(worker: worker, run: run, key: key, lease: lease, dataset: dataset, result: result,
                               error: error, released: released, started: started, seconds: seconds)
    }
}

extension Wire.LeaseRequest {
    public static func fastDecode(_ data: Data) -> Wire.LeaseRequest? {
        guard case let .object(o)? = FastJSON.parse(data),
              case let .string(worker)? = FastJSON.field(o, "worker"), case let .string(host)? = FastJSON.field(o, "host"),
              let threads = FastJSON.field(o, "threads")?.int, let max = FastJSON.field(o, "max")?.int,
              let wait = FastJSON.field(o, "wait")?.double,
              let started = FastJSON.optionalStrings(FastJSON.field(o, "started")) else { return nil }
        return Wire.LeaseRequest(worker: worker, host: host, threads: threads, max: max, wait: wait, started: started)
    }
}

extension Wire.LeaseResponse {
    /// This response as JSONEncoder (`.sortedKeys`) would write it.
    public func jsonBytes() throws -> Data {
        var w = JSONWriter(capacity: 64 + tasks.count * 160 + (running?.count ?? 0) * 32)
        w.raw("{")
        if let running {
            w.raw("\"running\":[")
            for (i, r) in running.enumerated() {
                if i > 0 { w.raw(",") }
                w.string(r)
            }
            w.raw("],")
        }
        w.raw("\"tasks\":[")
        for (i, t) in tasks.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"dataset\":"); w.string(t.dataset)
            if let input = t.input { w.raw(",\"input\":{\"alphas\":"); try w.doubles(input.alphas); w.raw("}") }
            w.raw(",\"key\":"); t.key.writeJSON(to: &w)
            w.raw(",\"lease\":"); w.string(t.lease)
            w.raw(",\"run\":"); w.string(t.run)
            w.raw("}")
        }
        w.raw("]}")
        return w.data
    }

    public static func fastDecode(_ data: Data) -> Wire.LeaseResponse? {
        guard case let .object(o)? = FastJSON.parse(data), case let .array(list)? = FastJSON.field(o, "tasks"),
              let running = FastJSON.optionalStrings(FastJSON.field(o, "running")) else { return nil }
        var tasks: [Wire.LeasedTask] = []
        for item in list {
            guard case let .object(t) = item, case let .string(run)? = FastJSON.field(t, "run"),
                  let kv = FastJSON.field(t, "key"), let key = TaskKey(json: kv),
                  case let .string(lease)? = FastJSON.field(t, "lease"), case let .string(dataset)? = FastJSON.field(t, "dataset") else { return nil }
            var input: PhaseTwoInput?
            switch FastJSON.field(t, "input") {
            case nil, .null?: input = nil
            case let .object(i)?: guard let a = FastJSON.field(i, "alphas")?.doubles else { return nil }; input = PhaseTwoInput(alphas: a)
            default: return nil
            }
            tasks.append(Wire.LeasedTask(run: run, key: key, lease: lease, dataset: dataset, input: input))
        }
        return Wire.LeaseResponse(tasks: tasks, running: running)
    }
}

/// A strict, small JSON reader (see the top of this file).
public enum FastJSON {
    public indirect enum Value: Sendable {
        case null
        case bool(Bool)
        /// The number, and its value as an Int when the literal is an integer that fits.
        case number(Double, Int?)
        case string(String)
        case array([Value])
        /// Members in document order (duplicate keys are refused).
        case object([(String, Value)])

        var double: Double? { if case let .number(d, _) = self { return d }; return nil }
        var int: Int? { if case let .number(_, i) = self { return i }; return nil }
        var doubles: [Double]? {
            guard case let .array(a) = self else { return nil }
            var out: [Double] = []
            out.reserveCapacity(a.count)
            for x in a { guard case let .number(d, _) = x else { return nil }; out.append(d) }
            return out
        }
    }

    static func field(_ members: [(String, Value)], _ key: String) -> Value? {
        for (k, v) in members where k == key { return v }
        return nil
    }

    /// `.some(nil)` for a missing or null field, `.some(value)` for a string, nil for anything else.
    static func optionalString(_ v: Value?) -> String?? {
        switch v {
        case nil, .null?: return .some(nil)
        case let .string(s)?: return .some(s)
        default: return nil
        }
    }

    static func optionalBool(_ v: Value?) -> Bool?? {
        switch v {
        case nil, .null?: return .some(nil)
        case let .bool(b)?: return .some(b)
        default: return nil
        }
    }

    static func optionalStrings(_ v: Value?) -> [String]?? {
        switch v {
        case nil, .null?: return .some(nil)
        case let .array(a)?:
            var out: [String] = []
            for x in a { guard case let .string(s) = x else { return nil }; out.append(s) }
            return .some(out)
        default: return nil
        }
    }

    static func writeStrings(_ list: [String], to w: inout JSONWriter) {
        w.raw("[")
        for (i, s) in list.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(s)
        }
        w.raw("]")
    }

    /// The document, or nil when it is not plain, strict JSON this reader handles.
    public static func parse(_ data: Data) -> Value? {
        data.withUnsafeBytes { raw -> Value? in
            var p = Parser(bytes: raw.bindMemory(to: UInt8.self))
            guard let v = p.value(depth: 0) else { return nil }
            p.skipSpace()
            return p.i == p.bytes.count ? v : nil
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipSpace() {
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { break }
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            let ok = word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[i + $0] == w[$0] } }
            if ok { i += n }
            return ok
        }

        mutating func value(depth: Int) -> Value? {
            guard depth < 64 else { return nil }
            skipSpace()
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, Value)] = []
                skipSpace()
                if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let key = string() else { return nil }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    guard let v = value(depth: depth + 1) else { return nil }
                    if members.contains(where: { $0.0 == key }) { return nil }
                    members.append((key, v))
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    return nil
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [Value] = []
                skipSpace()
                if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    items.append(v)
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string().map { .string($0) }
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default:
                return number()
            }
        }

        /// A number with JSON's grammar; finite values only.
        mutating func number() -> Value? {
            let start = i
            var integral = true
            if i < bytes.count && bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else { return nil }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
                if i < bytes.count && isDigit(bytes[i]) { return nil }   // no leading zeros
            } else {
                while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            }
            if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
                integral = false
                i += 1
                guard i < bytes.count, isDigit(bytes[i]) else { return nil }
                while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            }
            if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
                integral = false
                i += 1
                if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
                guard i < bytes.count, isDigit(bytes[i]) else { return nil }
                while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { return nil }
            if integral && i - start <= 18 { return .number(d, Int(text)) }
            return .number(d, nil)
        }

        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

        /// A string starting at the opening quote.
        mutating func string() -> String? {
            i += 1
            let start = i
            // Plain strings (no escapes) are the common case: one copy.
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                    i += 1
                    return s
                }
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { return nil }
                i += 1
            }
            var out = Array(bytes[start..<i])
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    i += 1
                    return String(validating: out, as: UTF8.self)
                }
                if b < 0x20 { return nil }
                if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
                i += 1
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard let u = hex4() else { return nil }
                    var scalar: UInt32 = u
                    if (0xD800..<0xDC00).contains(u) {
                        guard literal("\\u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(u) {
                        return nil
                    }
                    guard let s = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: Array(String(Character(s)).utf8))
                default: return nil
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[i]
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: return nil
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }
    }
}
