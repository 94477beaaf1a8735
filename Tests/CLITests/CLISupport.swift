import Foundation
import Testing

/// Runs the built `lassoboot` executable as a user would.
enum CLI {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ name: String) -> String { repoRoot.appendingPathComponent("Tests/Fixtures/\(name)").path }
    static let ctdc = repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/data/madiforman_CTDC_analysis_final_data.csv").path
    static var ctdcAvailable: Bool { FileManager.default.fileExists(atPath: ctdc) }
    static let ctdcSkipMessage: Comment = "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md)"

    /// The `lassoboot` binary built next to the test bundle.
    static var executable: URL {
        var dir = Bundle.main.bundleURL
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        for candidate in [dir, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap({ $0 }) {
            let url = candidate.appendingPathComponent("lassoboot")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return dir.appendingPathComponent("lassoboot")
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a large output cannot fill the pipe and block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// `lassoboot fit --format json` output (one outcome).
struct FitOutputJSON: Decodable {
    struct Coefficient: Decodable {
        let name: String; let coef: Double; let oddsRatio: Double; let waldLow: Double?; let waldHigh: Double?; let oddsRatioLow: Double?;
        let oddsRatioHigh: Double?
    }
    let outcome: String
    let coefficients: [Coefficient]
    let objective: Double
    let kktViolation: Double
    let iterations: Int
    let n: Int
    let patterns: Int
    let fitSeconds: Double
    let intervals: String
    let testAUC: Double?
    let testRows: Int?
}
