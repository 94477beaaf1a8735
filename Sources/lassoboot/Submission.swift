import Analysis
import Coordinator
import CoordinatorAPI
import Foundation
import Tabular
import Worker

/// A job spec file turned into what a coordinator needs: the spec text (with overrides), the
/// data bytes and, optionally, a resample index matrix.
struct PreparedJob {
    let create: Wire.CreateRun
    let data: Data
    let indices: Data?

    /// Where the spec comes from: a job file, or a CSV alone (`run --data FILE --outcome Y`).
    enum Source {
        case job(String)
        /// Every column except the outcomes and `exclude` is a numeric feature; the spec's defaults
        /// otherwise, with 10-fold cross-validation.
        case data(path: String, outcomes: [String], exclude: [String])
    }

    /// Command-line settings that replace the spec's.
    struct JobOverrides {
        var resamples: Int?
        var seed: UInt64?
        /// Data file replacing `data.csv` (absolute or relative to the working directory).
        var data: String?
        /// Level of a text outcome that counts as 1 (every outcome).
        var positive: String?
        var delimiter: String?
        var standardize: Bool?
        var folds: Int?
    }

    init(source: Source, overrides: JobOverrides, resampleIndices: String? = nil) throws {
        var object: JSONValue
        let specSource: String, baseDirectory: String
        let cwd = FileManager.default.currentDirectoryPath
        switch source {
        case let .job(job):
            guard let specBytes = FileManager.default.contents(atPath: job) else {
                throw CLIError("\(job): cannot read the job spec (no such file?)")
            }
            _ = try RunSpec.load(path: job)  // validates the spec as written, with its own key paths
            object = try JSONValue.parse(specBytes)
            specSource = job
            baseDirectory = URL(fileURLWithPath: job).deletingLastPathComponent().path
        case let .data(path, outcomes, exclude):
            let name = URL(fileURLWithPath: path).lastPathComponent.replacingOccurrences(of: ".gz", with: "")
                .replacingOccurrences(of: ".csv", with: "")
            object = .object([
                "name": .string(name),
                "data": .object(["csv": .string(path)]),
                "features": .string("all"),
                "outcomes": .array(outcomes.map { .object(["name": .string($0)]) }),
                "cv": .object(["folds": .number(10)]),
            ])
            if !exclude.isEmpty { object["exclude"] = .array(exclude.map { .string($0) }) }
            specSource = "command line (--data \(path))"
            baseDirectory = cwd
        }
        if let path = overrides.data {
            object["data"]?["csv"] = .string(path.hasPrefix("/") ? path : URL(fileURLWithPath: cwd).appendingPathComponent(path).standardized.path)
        }
        if let d = overrides.delimiter { object["data"]?["delimiter"] = .string(d) }
        if let positive = overrides.positive {
            guard case let .array(outcomes)? = object["outcomes"] else { throw CLIError("\(specSource): outcomes must be a list") }
            object["outcomes"] = .array(
                outcomes.map { o in
                    var m = o.isObject ? o : .object(["name": o])
                    m["positive"] = .string(positive)
                    return m
                })
        }
        if let st = overrides.standardize { object["penalty", default: .object([:])]["standardize"] = .bool(st) }
        if let k = overrides.folds { object["cv", default: .object([:])]["folds"] = .number(Double(k)) }
        if let r = overrides.resamples { object["bootstrap", default: .object([:])]["resamples"] = .number(Double(r)) }
        if let s = overrides.seed { object["seed"] = .number(Double(s)) }
        let spec = try RunSpec.parse(try object.encoded(), source: specSource, baseDirectory: baseDirectory)
        guard let bytes = FileManager.default.contents(atPath: spec.data.csv) else {
            throw CLIError("\(specSource): cannot read the data file \(spec.data.csv) (data.csv)")
        }
        let hash = SHA256.hex(bytes)
        object["data"]?["csv"] = .string("sha256:\(hash)")
        if object["name"] == nil { object["name"] = .string(spec.name) }
        var indexBytes: Data?
        if let path = resampleIndices {
            guard let b = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read --resample-indices file \(path)") }
            indexBytes = b
        }
        let text = String(decoding: try object.encoded(), as: UTF8.self)
        create = Wire.CreateRun(
            spec: text, dataset: hash, dataName: spec.data.csv,
            resampleIndices: indexBytes.map { SHA256.hex($0) })
        data = bytes
        indices = indexBytes
    }
}
