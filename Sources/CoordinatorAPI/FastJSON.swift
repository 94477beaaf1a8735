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
            let payload = FastJSON.field(fields, "_0")
        else { return nil }
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
                let weight = FastJSON.field(fields, "heldOutWeight")?.double
            else { return nil }
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
                let kkt = FastJSON.field(fields, "kktViolation")?.double, let it = FastJSON.field(fields, "iterations")?.int
            else { return nil }
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
            guard case let .array(rows)? = FastJSON.field(fields, "features"), let lambdas = FastJSON.field(fields, "lambdas")?.doubles else {
                return nil
            }
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
