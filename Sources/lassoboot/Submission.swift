import Analysis
import Coordinator
import Foundation
import Tabular
import Worker

/// A job spec file turned into what a coordinator needs: the spec text (with overrides), the
/// data bytes and, optionally, a resample index matrix.
struct PreparedJob {
    let create: Wire.CreateRun
    let data: Data
    let indices: Data?

    /// Reads `job` (validating it fully) and its data; `resamples` and `seed` override the spec.
    init(job: String, resamples: Int? = nil, seed: UInt64? = nil, resampleIndices: String? = nil) throws {
        let spec = try RunSpec.load(path: job)
        guard let bytes = FileManager.default.contents(atPath: spec.data.csv) else {
            throw CLIError("\(job): cannot read the data file \(spec.data.csv) (data.csv)")
        }
        guard let specBytes = FileManager.default.contents(atPath: job),
              var object = try JSONSerialization.jsonObject(with: specBytes) as? [String: Any],
              var dataObject = object["data"] as? [String: Any] else {
            throw CLIError("cannot re-read \(job)")
        }
        let hash = SHA256.hex(bytes)
        dataObject["csv"] = "sha256:\(hash)"
        object["data"] = dataObject
        if object["name"] == nil { object["name"] = spec.name }
        if let r = resamples {
            var boot = object["bootstrap"] as? [String: Any] ?? [:]
            boot["resamples"] = r
            object["bootstrap"] = boot
        }
        if let s = seed { object["seed"] = s }
        var indexBytes: Data?
        if let path = resampleIndices {
            guard let b = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read --resample-indices file \(path)") }
            indexBytes = b
        }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        create = Wire.CreateRun(spec: text, dataset: hash, dataName: spec.data.csv,
                                resampleIndices: indexBytes.map { SHA256.hex($0) })
        data = bytes
        indices = indexBytes
    }
}

/// A worker's view of a coordinator in the same process: the same worker loop as over HTTP,
/// without the sockets (what `lassoboot run` uses).
struct InProcessClient: CoordinatorClient {
    let service: CoordinatorService

    func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask] {
        try await service.lease(request, maxWait: request.wait)
    }

    func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String] { try await service.heartbeat(heartbeat) }
    func submit(_ submission: Wire.Submission) async throws -> String { try await service.submit(submission) }
    func context(run: String) async throws -> Wire.RunContext { try await service.context(run) }
    func dataset(hash: String) async throws -> Data { try await service.dataset(hash) }
}
