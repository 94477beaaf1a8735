import Analysis
import CoordinatorAPI
// lassoboot-bench: timings of the solver and the CSV reader, printed as one JSON line each.
//
//   lassoboot-bench fit --data CSV --outcome COL [--exclude COL...] (--alpha A | --alpha-fraction F)
//                       [--penalize-intercept] [--tolerance T] [--repeat N] [--label TEXT]
//   lassoboot-bench csv [--rows 1000000] [--cols 20] [--file PATH] [--repeat 5]
//
// `bash Benchmarks/run.sh` runs both next to R glmnet and statsmodels and prints the comparison.
import Foundation
import Lasso
import Tabular
import TestSupport

// MARK: - Small helpers

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

/// `--name value` options (a repeatable option takes every following value up to the next `--`),
/// and `--flag` switches.
struct Arguments {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    init(_ args: ArraySlice<String>, flags known: Set<String>) throws {
        var i = args.startIndex
        while i < args.endIndex {
            let a = args[i]
            guard a.hasPrefix("--") else { throw UsageError(description: "unexpected argument '\(a)'") }
            let name = String(a.dropFirst(2))
            i += 1
            if known.contains(name) { flags.insert(name); continue }
            var taken: [String] = []
            while i < args.endIndex, !args[i].hasPrefix("--") {
                taken.append(args[i]); i += 1
            }
            guard !taken.isEmpty else { throw UsageError(description: "--\(name) needs a value") }
            values[name, default: []] += taken
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func string(_ name: String) throws -> String? {
        guard let v = values[name] else { return nil }
        guard v.count == 1 else { throw UsageError(description: "--\(name) takes one value, got \(v.count)") }
        return v[0]
    }
    func required(_ name: String) throws -> String {
        guard let v = try string(name) else { throw UsageError(description: "--\(name) is required") }
        return v
    }
    func double(_ name: String) throws -> Double? {
        guard let s = try string(name) else { return nil }
        guard let v = Double(s), v.isFinite else { throw UsageError(description: "--\(name): '\(s)' is not a number") }
        return v
    }
    func int(_ name: String) throws -> Int? {
        guard let s = try string(name) else { return nil }
        guard let v = Int(s), v > 0 else { throw UsageError(description: "--\(name): '\(s)' is not a positive integer") }
        return v
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    let n = s.count
    return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
}

/// One flat JSON object, keys in insertion order.
struct JSONLine {
    private var parts: [String] = []

    mutating func add(_ key: String, _ value: String) { parts.append("\(quote(key)):\(quote(value))") }
    mutating func add(_ key: String, _ value: Int) { parts.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Bool) { parts.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Double) { parts.append("\(quote(key)):\(number(value))") }
    mutating func add(_ key: String, _ values: [Double]) {
        parts.append("\(quote(key)):[\(values.map(number).joined(separator: ","))]")
    }
    mutating func add(_ key: String, _ values: [String]) {
        parts.append("\(quote(key)):[\(values.map(quote).joined(separator: ","))]")
    }

    var text: String { "{" + parts.joined(separator: ",") + "}" }

    private func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
    /// The coordinator codec's escaping (one JSON string escaper in the project).
    private func quote(_ s: String) -> String {
        var w = JSONWriter(capacity: s.utf8.count + 2)
        w.string(s)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

/// Keeps results observable so the optimizer cannot drop timed work.
nonisolated(unsafe) var blackHole = 0.0

// MARK: - fit

/// Times full-data fits on a design built once.
func runFit(_ args: Arguments) throws {
    let path = try args.required("data")
    let outcome = try args.required("outcome")
    let excluded = args.all("exclude")
    let penalizeIntercept = args.flag("penalize-intercept")
    let repeats = try args.int("repeat") ?? 50
    let tolerance = try args.double("tolerance") ?? SolverOptions().tolerance
    let alphaGiven = try args.double("alpha")
    let fraction = try args.double("alpha-fraction")
    guard (alphaGiven == nil) != (fraction == nil) else {
        throw UsageError(description: "give exactly one of --alpha A (sum scale) or --alpha-fraction F (alpha = F * alpha_max)")
    }
    let clock = ContinuousClock()

    // CSV read (the page cache is warm after the first read; this is the first one).
    var table: Table?
    let readTime = try clock.measure { table = try CSVReader().read(path: path) }
    let t = table!

    // Design: pick the columns, compress the rows into patterns, aggregate the outcome.
    let skip = Set([outcome] + excluded)
    for name in [outcome] + excluded { _ = try t.columnIndex(name) }
    let features = t.columnNames.filter { !skip.contains($0) }
    let y = try t.binary(outcome)
    var columns: [[Double]] = []
    for name in features {
        if let missing = try t.firstMissing(name) { throw missing }
        columns.append(try t.numeric(name))
    }
    var designTimes: [Double] = []
    var built: (CompressedDesign, BinomialCells)?
    for _ in 0..<5 {
        designTimes.append(
            try clock.measure {
                let d = try CompressedDesign(featureNames: features, columns: columns)
                built = (d, try d.cells(outcome: y))
            }.seconds)
    }
    let (design, cells) = built!

    let penalty = Penalty(scale: .sum, penalizeIntercept: penalizeIntercept)
    let alphaMax = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: Penalty(scale: .sum))
    let alpha = alphaGiven ?? fraction! * alphaMax
    let options = SolverOptions(tolerance: tolerance)

    // One untimed warm-up fit, then the timed ones (each from a cold start, workspace included).
    var fit = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty, options: options)
    var times: [Double] = []
    times.reserveCapacity(repeats)
    for _ in 0..<repeats {
        times.append(
            try clock.measure {
                fit = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty, options: options)
            }.seconds)
        blackHole += fit.objective
    }

    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", (try args.string("label")) ?? "")
    j.add("rows", design.rowCount)
    j.add("features", design.featureCount)
    j.add("patterns", design.patternCount)
    j.add("alpha", alpha)
    j.add("alphaMax", alphaMax)
    j.add("penalizeIntercept", penalizeIntercept)
    j.add("tolerance", tolerance)
    j.add("repeat", repeats)
    j.add("medianSeconds", median(times))
    j.add("minSeconds", times.min()!)
    j.add("csvReadSeconds", readTime.seconds)
    j.add("designSeconds", median(designTimes))
    j.add("kktViolation", fit.kktViolation)
    j.add("objective", fit.objective)
    j.add("loss", fit.loss)
    j.add("iterations", fit.iterations)
    j.add("nonzero", fit.coefficients.filter { $0 != 0 }.count)
    j.add("coefficients", fit.allCoefficients)
    j.add("names", ["const"] + features)
    print(j.text)
}

// MARK: - job

/// `lassoboot-bench job --spec SPEC [--threads T] [--intervals debiased|penalized] [--resamples B]`:
/// wall time of one whole run in process (the code of `lassoboot run`: parse, prepare, both
/// phases on T threads, aggregation), split into tasks and aggregation (where the debiased
/// intervals are made), to compare the penalized-only run with the debiased one.
func runJob(_ args: Arguments) throws {
    let path = try args.required("spec")
    let threads = try args.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount
    let clock = ContinuousClock()
    let t0 = clock.now
    var spec = try RunSpec.load(path: path)
    if let kind = try args.string("intervals") {
        guard let k = IntervalKind(rawValue: kind) else { throw UsageError(description: "--intervals: debiased or penalized") }
        spec.intervals = k
    }
    if let b = try args.int("resamples") { spec.bootstrap.resamples = b }
    let data = try RunData.load(spec: spec)
    let t1 = clock.now
    let executor = TaskExecutor(data: data)
    let results = try LocalRunner(executor: executor, threads: threads).run()
    let t2 = clock.now
    let report = try Aggregation.report(data: data, executor: executor, results: results, software: "bench")
    let t3 = clock.now
    let json = Render.json(report)
    var j = JSONLine()
    j.add("job", path)
    j.add("intervals", spec.intervals.rawValue)
    j.add("threads", Double(threads))
    j.add("resamples", Double(spec.bootstrap.resamples))
    j.add("prepareSeconds", (t1 - t0).seconds)
    j.add("taskSeconds", (t2 - t1).seconds)
    j.add("aggregateSeconds", (t3 - t2).seconds)
    j.add("wallSeconds", (t3 - t0).seconds)
    j.add("reportBytes", Double(json.utf8.count))
    for o in report.outcomes {
        if let d = o.debiasing {
            j.add("\(o.name).debiasSteps", Double(d.steps ?? 0))
            j.add("\(o.name).debiasCondition", d.conditionNumber ?? .nan)
            j.add("\(o.name).debiasResamples", Double(d.resamples))
            j.add("\(o.name).debiasFailed", d.failures.map { "\($0.cause) x\($0.resamples)" })
        }
    }
    print(j.text)
}

// MARK: - main

let usage = """
    usage: lassoboot-bench fit --data CSV --outcome COL [--exclude COL...] (--alpha A | --alpha-fraction F)
                               [--penalize-intercept] [--tolerance T] [--repeat N] [--label TEXT]
           lassoboot-bench csv [--rows N] [--cols K] [--file PATH] [--repeat R]
           lassoboot-bench path --data CSV --outcome COL [--count 100] [--min-ratio 0.01] [--repeat 3] [--out PATH]
           lassoboot-bench coverage [--reps 500] [--rows 1000] [--resamples 500] [--alpha 0.005] [--settings mle,fixed,cv,cv1se]
                                    [--methods percentile,debiased-wald,debiased-percentile] [--design standard|toeplitz]
                                    [--p 20] [--rho 0.5] [--event-rate r] [--seed S] [--threads T] [--json] [--dump DIR]
           lassoboot-bench debias --data CSV --outcome COL [--alpha-fraction 0.05] [--steps N] [--repeat 1]
           lassoboot-bench job --spec SPEC [--threads T] [--intervals debiased|penalized] [--resamples B]
           lassoboot-bench warm --data CSV --outcome COL [--exclude COL...] [--alpha A] [--penalize-intercept]
                                [--resamples 200] [--repeat 5] [--tolerance T] [--seed S]
    """

let argv = CommandLine.arguments
do {
    guard argv.count >= 2 else { throw UsageError(description: "missing subcommand") }
    switch argv[1] {
    case "fit": try runFit(Arguments(argv[2...], flags: ["penalize-intercept"]))
    case "csv": try runCSV(Arguments(argv[2...], flags: []))
    case "path": try runPath(Arguments(argv[2...], flags: []))  // PathBench.swift
    case "coverage": try runCoverage(Arguments(argv[2...], flags: ["json"]))  // Coverage.swift
    case "debias": try runDebias(Arguments(argv[2...], flags: []))  // PathBench.swift
    case "job": try runJob(Arguments(argv[2...], flags: []))
    case "warm": try runWarm(Arguments(argv[2...], flags: ["penalize-intercept"]))
    case "capacity": try runCapacity(Arguments(argv[2...], flags: []))  // Capacity.swift
    case "-h", "--help", "help": print(usage)
    default: throw UsageError(description: "unknown subcommand '\(argv[1])'")
    }
} catch let e as UsageError {
    FileHandle.standardError.write(Data("error: \(e.description)\n\(usage)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
if blackHole.isNaN { print("") }

// MARK: - warm

/// Times refits of one alpha on bootstrap resamples of the rows (multinomial counts drawn with
/// SplitMix64), warm-started from the full-data fit (the solver's inner loop in a bootstrap run)
/// and, for comparison, cold. The resamples' cells are built before timing. Reports, over
/// resamples, the median of each resample's median and of its fastest fit.
func runWarm(_ args: Arguments) throws {
    let path = try args.required("data")
    let outcome = try args.required("outcome")
    let excluded = args.all("exclude")
    let penalizeIntercept = args.flag("penalize-intercept")
    let resamples = try args.int("resamples") ?? 200
    let repeats = try args.int("repeat") ?? 5
    let tolerance = try args.double("tolerance") ?? SolverOptions().tolerance
    let alpha = try args.double("alpha") ?? 0.1
    let seed = UInt64(try args.int("seed") ?? 1)
    let clock = ContinuousClock()
    let t = try CSVReader().read(path: path)
    let skip = Set([outcome] + excluded)
    let features = t.columnNames.filter { !skip.contains($0) }
    let y = try t.binary(outcome)
    let columns = try features.map { try t.numeric($0) }
    let design = try CompressedDesign(featureNames: features, columns: columns)
    let cells = try design.cells(outcome: y)
    let penalty = Penalty(scale: .sum, penalizeIntercept: penalizeIntercept)
    let options = SolverOptions(tolerance: tolerance)
    let full = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty, options: options)

    var rng = SplitMix64(seed: seed)
    let n = design.rowCount
    var resampled: [BinomialCells] = []
    for _ in 0..<resamples {
        var counts = [Double](repeating: 0, count: n)
        for _ in 0..<n { counts[Int(rng.next() % UInt64(n))] += 1 }
        resampled.append(try design.cells(outcome: y, weights: counts))
    }
    // One untimed pass, then `repeats` timed fits of every resample, warm and cold; per resample
    // the median and the fastest, then their medians over resamples.
    var iterations: [Int] = []
    for c in resampled {
        let f = try LogisticLasso.fit(design: design, cells: c, alpha: alpha, penalty: penalty, options: options, warmStart: full)
        iterations.append(f.iterations)
        blackHole += f.objective
    }
    var warmMedian: [Double] = [], warmMin: [Double] = [], coldMedian: [Double] = [], coldMin: [Double] = []
    for c in resampled {
        var warm: [Double] = [], cold: [Double] = []
        for _ in 0..<repeats {
            warm.append(
                try clock.measure {
                    let f = try LogisticLasso.fit(design: design, cells: c, alpha: alpha, penalty: penalty, options: options, warmStart: full)
                    blackHole += f.objective
                }.seconds)
            cold.append(
                try clock.measure {
                    let f = try LogisticLasso.fit(design: design, cells: c, alpha: alpha, penalty: penalty, options: options)
                    blackHole += f.objective
                }.seconds)
        }
        warmMedian.append(median(warm)); warmMin.append(warm.min()!)
        coldMedian.append(median(cold)); coldMin.append(cold.min()!)
    }
    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", "warm refit on bootstrap resamples")
    j.add("patterns", design.patternCount)
    j.add("alpha", alpha)
    j.add("penalizeIntercept", penalizeIntercept)
    j.add("tolerance", tolerance)
    j.add("resamples", resamples)
    j.add("repeat", repeats)
    j.add("warmMedianSeconds", median(warmMedian))
    j.add("warmMinSeconds", median(warmMin))
    j.add("coldMedianSeconds", median(coldMedian))
    j.add("coldMinSeconds", median(coldMin))
    j.add("fullFitIterations", full.iterations)
    j.add("meanWarmIterations", Double(iterations.reduce(0, +)) / Double(iterations.count))
    j.add("maxWarmIterations", iterations.max() ?? 0)
    print(j.text)
}
