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
        var object: [String: Any]
        let specSource: String, baseDirectory: String
        let cwd = FileManager.default.currentDirectoryPath
        switch source {
        case let .job(job):
            guard let specBytes = FileManager.default.contents(atPath: job) else {
                throw CLIError("\(job): cannot read the job spec (no such file?)")
            }
            _ = try RunSpec.load(path: job)  // validates the spec as written, with its own key paths
            guard let o = try JSONSerialization.jsonObject(with: specBytes) as? [String: Any] else {
                throw CLIError("cannot re-read \(job)")
            }
            object = o
            specSource = job
            baseDirectory = URL(fileURLWithPath: job).deletingLastPathComponent().path
        case let .data(path, outcomes, exclude):
            object = [
                "name": URL(fileURLWithPath: path).lastPathComponent.replacingOccurrences(of: ".gz", with: "").replacingOccurrences(
                    of: ".csv", with: ""),
                "data": ["csv": path] as [String: Any],
                "features": "all",
                "outcomes": outcomes.map { ["name": $0] as [String: Any] },
                "cv": ["folds": 10] as [String: Any],
            ]
            if !exclude.isEmpty { object["exclude"] = exclude }
            specSource = "command line (--data \(path))"
            baseDirectory = cwd
        }
        var dataObject = object["data"] as? [String: Any] ?? [:]
        if let path = overrides.data {
            dataObject["csv"] = path.hasPrefix("/") ? path : URL(fileURLWithPath: cwd).appendingPathComponent(path).standardized.path
        }
        if let d = overrides.delimiter { dataObject["delimiter"] = d }
        object["data"] = dataObject
        if let positive = overrides.positive {
            guard let outcomes = object["outcomes"] as? [Any] else { throw CLIError("\(specSource): outcomes must be a list") }
            object["outcomes"] = outcomes.map { o -> Any in
                var m = (o as? [String: Any]) ?? ["name": o]
                m["positive"] = positive
                return m
            }
        }
        if let st = overrides.standardize {
            var penalty = object["penalty"] as? [String: Any] ?? [:]
            penalty["standardize"] = st
            object["penalty"] = penalty
        }
        if let k = overrides.folds {
            var cv = object["cv"] as? [String: Any] ?? [:]
            cv["folds"] = k
            object["cv"] = cv
        }
        if let r = overrides.resamples {
            var boot = object["bootstrap"] as? [String: Any] ?? [:]
            boot["resamples"] = r
            object["bootstrap"] = boot
        }
        if let s = overrides.seed { object["seed"] = s }
        let effective = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let spec = try RunSpec.parse(effective, source: specSource, baseDirectory: baseDirectory)
        guard let bytes = FileManager.default.contents(atPath: spec.data.csv) else {
            throw CLIError("\(specSource): cannot read the data file \(spec.data.csv) (data.csv)")
        }
        let hash = SHA256.hex(bytes)
        dataObject = object["data"] as? [String: Any] ?? [:]
        dataObject["csv"] = "sha256:\(hash)"
        object["data"] = dataObject
        if object["name"] == nil { object["name"] = spec.name }
        var indexBytes: Data?
        if let path = resampleIndices {
            guard let b = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read --resample-indices file \(path)") }
            indexBytes = b
        }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        create = Wire.CreateRun(
            spec: text, dataset: hash, dataName: spec.data.csv,
            resampleIndices: indexBytes.map { SHA256.hex($0) })
        data = bytes
        indices = indexBytes
    }
}
