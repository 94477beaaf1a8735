import Foundation
import Plan

// The fast codec of the hot-path wire bodies (see FastJSON.swift).

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
            case let .string(lease)? = FastJSON.field(o, "lease"), case let .string(dataset)? = FastJSON.field(o, "dataset")
        else { return nil }
        var result: TaskResult?
        switch FastJSON.field(o, "result") {
        case nil, .null?: result = nil
        case let v?: guard let r = TaskResult(json: v) else { return nil }; result = r
        }
        guard let error = FastJSON.optionalString(FastJSON.field(o, "error")),
            let released = FastJSON.optionalBool(FastJSON.field(o, "released")),
            let started = FastJSON.optionalStrings(FastJSON.field(o, "started"))
        else { return nil }
        var seconds: Double?
        switch FastJSON.field(o, "seconds") {
        case nil, .null?: seconds = nil
        case let v?: guard let d = v.double else { return nil }; seconds = d
        }
        return Wire.Submission(
            worker: worker, run: run, key: key, lease: lease, dataset: dataset, result: result,
            error: error, released: released, started: started, seconds: seconds)
    }
}

extension Wire.LeaseRequest {
    public static func fastDecode(_ data: Data) -> Wire.LeaseRequest? {
        guard case let .object(o)? = FastJSON.parse(data),
            case let .string(worker)? = FastJSON.field(o, "worker"), case let .string(host)? = FastJSON.field(o, "host"),
            let threads = FastJSON.field(o, "threads")?.int, let max = FastJSON.field(o, "max")?.int,
            let wait = FastJSON.field(o, "wait")?.double,
            let started = FastJSON.optionalStrings(FastJSON.field(o, "started"))
        else { return nil }
        var version: Int?
        switch FastJSON.field(o, "protocolVersion") {
        case nil, .null?: version = nil
        case let v?: guard let n = v.int else { return nil }; version = n
        }
        return Wire.LeaseRequest(worker: worker, host: host, threads: threads, max: max, wait: wait, started: started, protocolVersion: version)
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
            let running = FastJSON.optionalStrings(FastJSON.field(o, "running"))
        else { return nil }
        var tasks: [Wire.LeasedTask] = []
        for item in list {
            guard case let .object(t) = item, case let .string(run)? = FastJSON.field(t, "run"),
                let kv = FastJSON.field(t, "key"), let key = TaskKey(json: kv),
                case let .string(lease)? = FastJSON.field(t, "lease"), case let .string(dataset)? = FastJSON.field(t, "dataset")
            else { return nil }
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
