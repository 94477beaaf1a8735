// lassoboot-bench coverage: how often do lassoboot's 95% bootstrap intervals cover the truth?
//
//   lassoboot-bench coverage [--reps 500] [--rows 1000] [--resamples 500] [--alpha 0.005]
//                            [--settings mle,fixed,cv,cv1se,cvdev,cvdev1se] [--methods percentile,debiased-wald,debiased-percentile]
//                            [--design standard|toeplitz] [--p 20] [--rho 0.5] [--nonzeros k] [--event-rate r] [--seed 20251207]
//                            [--debiased '{"newtonSteps": 1}' | '{"method": "nodewise"}']
//                            [--threads N] [--json] [--dump DIR] [--from R]
//
// Methods: the penalized bootstrap intervals (percentile, basic, normal, bca: the variability of
// the penalized estimator) and the debiased ones (debiased-wald, debiased-percentile, ...:
// Newton steps to the unpenalized likelihood from the lasso fit, in the data and in every
// resample). Each method block ends with the issue's pass criterion and a width ratio to the
// oracle MLE Wald interval of the same data.
//
// Each repetition draws one synthetic data set from a logistic model with known coefficients
// (8 features, binary and continuous; 3 large, 2 small, 3 exactly zero; known intercept) from
// RandomStream(seed, .simulation, repetition), writes it as CSV bytes, and runs it through the
// same code as `lassoboot run` (RunSpec.parse, RunData, TaskExecutor, LocalRunner, Aggregation)
// once per setting:
//   mle    alpha = 0 (unpenalized maximum likelihood): the control, should cover ~95% everywhere;
//   fixed  one fixed small alpha (--alpha, glmnet's lambda: the "mean" penalty scale);
//   cv     alpha chosen by 5-fold CV (AUC, rule min) over 30 alphas down to 1e-3 * alpha_max;
//   cv1se  the same with rule 1se (a larger alpha: more shrinkage, more exact zeros);
//   cvdev, cvdev1se  the same two by held-out deviance (which, unlike AUC, sees overconfident
//          probabilities: AUC cannot tell a near-separating fit at a tiny alpha from a calibrated one).
// Bootstrap: B resamples, 95% intervals. Repetitions run in parallel (one per thread).
// Per coefficient it prints coverage (interval contains the true value, endpoints included)
// with its binomial SE, where the misses fall (toward zero / away from zero), how often the
// interval is exactly [0, 0], the mean estimate and the mean interval width.
//
// --dump DIR writes what the peers need to run on the very same data sets
// (Benchmarks/peers/coverage_peers.py): DIR/model.json (names, true values, classes, level, the
// settings and methods), DIR/repN.csv (each repetition's data, header y,x...) and
// DIR/lassoboot.jsonl (one line per repetition and setting: the chosen alpha on glmnet's lambda
// scale, the penalized estimate, and every method's intervals, intercept first).
//
// --from R runs only repetitions R..<reps (each repetition's data and seed depend on its index
// alone), so a long simulation can be finished in pieces: concatenate the pieces' lassoboot.jsonl
// files (each line names its repetition) and summarize them together.
import Analysis
import Dispatch
import Foundation
import Lasso
import Resampling
import Synchronization

/// The data-generating model.
///
/// One setting of the simulation (how alpha is chosen).
struct CoverageSetting {
    let name: String
    let label: String
    /// The spec's "alphas" member (JSON).
    let alphasJSON: String
    /// The CV rule (min or 1se).
    let rule: String
    /// The CV metric (auc or deviance).
    var metric = "auc"
}

/// What one repetition of one setting produced, per coefficient and method.
struct CoverageCell: Sendable {
    var estimate: [Double]
    /// intervals[method][coef] = (low, high), NaN when no interval.
    var intervals: [[(Double, Double)]]
    /// Width of the unpenalized MLE's Wald interval on the same data (the converged debiased
    /// estimate's Wald width, which equals statsmodels' Logit Wald: DebiasedTests), per coef.
    var oracleWidth: [Double]
    var alpha: Double
    var alphaMax: Double
    var failedResamples: Int
    /// Wall seconds of this repetition and setting (the run and its aggregation, one thread).
    var seconds: Double
}

func runCoverage(_ args: Arguments) throws {
    let reps = try args.int("reps") ?? 500
    let rows = try args.int("rows") ?? 1000
    let resamples = try args.int("resamples") ?? 500
    let fixedAlpha = try args.double("alpha") ?? 0.005
    let seed = UInt64(try args.int("seed") ?? 20_251_207)
    let threads = try args.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount
    let first = try args.int("from") ?? 0
    guard first >= 0 && first < reps else {
        throw UsageError(description: "--from \(first): the first repetition to run, from 0 to --reps - 1 (\(reps - 1))")
    }
    let level = 0.95
    let methodNames = (try args.string("methods") ?? "percentile").split(separator: ",").map(String.init)
    // A method is a penalized bootstrap method (percentile, ...) or a debiased one
    // (debiased-wald, debiased-percentile, ...): its interval is looked up under `keys`.
    struct Method { let name: String; let key: String; let base: CIMethod? }
    let methods = try methodNames.map { name -> Method in
        if name == "debiased-wald" { return Method(name: name, key: Report.debiasedPrefix + "wald", base: nil) }
        let baseName = name.hasPrefix("debiased-") ? String(name.dropFirst("debiased-".count)) : name
        guard let m = CIMethod(rawValue: baseName) else {
            throw UsageError(
                description: "--methods: unknown CI method '\(name)' (percentile, basic, normal, bca, debiased-wald, debiased-percentile, ...)")
        }
        return Method(name: name, key: name.hasPrefix("debiased-") ? Report.debiasedPrefix + baseName : baseName, base: m)
    }
    var specMethods: [CIMethod] = []
    for m in methods { if let b = m.base, !specMethods.contains(b) { specMethods.append(b) } }
    if specMethods.isEmpty { specMethods = [.percentile] }
    let designName = try args.string("design") ?? "standard"
    var chosen: CoverageModel
    switch designName {
    case "standard": chosen = CoverageModel()
    case "toeplitz": chosen = CoverageModel(toeplitz: try args.int("p") ?? 20, rho: try args.double("rho") ?? 0.5, nonzeros: try args.int("nonzeros"))
    case "ctdc":
        let job = try args.string("job") ?? "jobs/ctdc-north-america.json"
        chosen = try CoverageModel(plasmodeJob: job, outcome: try args.string("outcome") ?? "isForcedLabour")
    default: throw UsageError(description: "--design: standard, toeplitz or ctdc")
    }
    if let rate = try args.double("event-rate") {
        guard chosen.plasmode == nil else { throw UsageError(description: "--event-rate: not with the ctdc design (its truth is the job's fit)") }
        guard rate > 0 && rate < 1 else { throw UsageError(description: "--event-rate: a share of ones strictly between 0 and 1, e.g. 0.1") }
        chosen.calibrate(eventRate: rate)
    }
    let model = chosen
    let all: [CoverageSetting] = [
        .init(name: "mle", label: "alpha = 0 (unpenalized MLE, control)", alphasJSON: "\"alphas\": [0]", rule: "min"),
        .init(name: "fixed", label: "fixed alpha = \(fixedAlpha) (glmnet lambda scale)", alphasJSON: "\"alphas\": [\(fixedAlpha)]", rule: "min"),
        .init(
            name: "cv", label: "alpha by 5-fold CV (AUC, rule min, 30 alphas to 1e-3 alpha_max)",
            alphasJSON: "\"alphas\": {\"count\": 30, \"minRatio\": 0.001}", rule: "min"),
        .init(
            name: "cv1se", label: "alpha by 5-fold CV, rule 1se (largest alpha within 1 SE of the best AUC)",
            alphasJSON: "\"alphas\": {\"count\": 30, \"minRatio\": 0.001}", rule: "1se"),
        .init(
            name: "cvdev", label: "alpha by 5-fold CV (deviance, rule min, 30 alphas to 1e-3 alpha_max)",
            alphasJSON: "\"alphas\": {\"count\": 30, \"minRatio\": 0.001}", rule: "min", metric: "deviance"),
        .init(
            name: "cvdev1se", label: "alpha by 5-fold CV, rule 1se (largest alpha within 1 SE of the least deviance)",
            alphasJSON: "\"alphas\": {\"count\": 30, \"minRatio\": 0.001}", rule: "1se", metric: "deviance"),
    ]
    let wanted = (try args.string("settings") ?? "mle,fixed,cv,cv1se").split(separator: ",").map(String.init)
    let settings = try wanted.map { w -> CoverageSetting in
        guard let s = all.first(where: { $0.name == w }) else {
            throw UsageError(description: "--settings: unknown setting '\(w)' (mle, fixed, cv, cv1se, cvdev, cvdev1se)")
        }
        return s
    }
    let p = model.names.count
    // The spec's `debiased` object as given (e.g. {"newtonSteps": 1} or {"method": "nodewise"}).
    let debiasedJSON = try args.string("debiased")
    let dump = try args.string("dump").map { URL(fileURLWithPath: $0, isDirectory: true) }
    if let dump {
        do {
            try FileManager.default.createDirectory(at: dump, withIntermediateDirectories: true)
        } catch {
            throw UsageError(description: "--dump \(dump.path): cannot create the directory (\(error.localizedDescription))")
        }
    }

    func spec(_ s: CoverageSetting, repetition: Int) throws -> RunSpec {
        let features = model.features.map { "{\"name\": \"\($0.name)\", \"encoding\": \"numeric\", \"group\": \"\($0.group)\"}" }
        let json = """
            {"name": "coverage-\(s.name)-\(repetition)",
             "data": {"csv": "/coverage/rep\(repetition).csv"},
             "outcomes": ["y"],
             "features": [\(features.joined(separator: ", "))],
             "penalty": {"scale": "mean", "penalizeIntercept": false, "standardize": false},
             \(s.alphasJSON),
             "cv": {"folds": 5, "metric": "\(s.metric)", "rule": "\(s.rule)", "choose": "per-outcome"},
             "bootstrap": {"resamples": \(resamples), "methods": [\(specMethods.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))],
                           "level": \(level)},
             \(debiasedJSON.map { "\"debiased\": \($0)," } ?? "")
             "seed": \(seed &+ UInt64(repetition))}
            """
        return try RunSpec.parse(Data(json.utf8), source: "coverage-\(s.name).json", baseDirectory: "/")
    }

    // results[setting][rep]
    let store = Mutex([[CoverageCell?]](repeating: [CoverageCell?](repeating: nil, count: reps), count: settings.count))
    let errors = Mutex([String]())
    let progress = Mutex(0)
    let ones = Mutex(0)
    let clock = ContinuousClock()
    let dumpLock = Mutex(())
    /// Per repetition, whether it is over (fitted or failed).
    let finished = Mutex((0..<reps).map { $0 < first })

    /// model.json and lassoboot.jsonl for Benchmarks/peers/coverage_peers.py (see the header) for
    /// the first `prefix` repetitions: rewritten at every tenth of the run with the repetitions
    /// over so far, so an interrupted run still leaves usable results.
    @Sendable func writeCoverageDump(to dir: URL, results: [[CoverageCell?]], prefix: Int) throws {
        func num(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
        func str(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        func list(_ xs: [String]) -> String { "[" + xs.joined(separator: ",") + "]" }
        let modelJSON =
            "{"
            + [
                "\"design\":\(str(designName))", "\"rows\":\(rows)", "\"repetitions\":\(prefix - first)", "\"firstRepetition\":\(first)",
                "\"resamples\":\(resamples)",
                "\"seed\":\(seed)", "\"level\":\(level)", "\"names\":\(list(model.names.map(str)))",
                "\"truth\":\(list(model.truth.map(num)))", "\"groups\":\(list(model.groups.map(str)))",
                "\"settings\":\(list(settings.map { str($0.name) }))", "\"methods\":\(list(methods.map { str($0.name) }))",
                "\"source\":\(str(model.plasmode?.source ?? "synthetic"))",
            ].joined(separator: ",") + "}\n"
        var lines = ""
        for (si, s) in settings.enumerated() {
            for (rep, cell) in results[si].prefix(prefix).enumerated() {
                guard let cell else { continue }
                let intervals = methods.enumerated().map { mi, m in
                    str(m.name) + ":" + list(cell.intervals[mi].map { "[\(num($0.0)),\(num($0.1))]" })
                }
                lines +=
                    "{\"rep\":\(rep),\"setting\":\(str(s.name)),\"alpha\":\(num(cell.alpha)),\"estimate\":\(list(cell.estimate.map(num))),"
                    + "\"oracleWidth\":\(list(cell.oracleWidth.map(num))),\"failedResamples\":\(cell.failedResamples),\"seconds\":\(num(cell.seconds)),"
                    + "\"intervals\":{\(intervals.joined(separator: ","))}}\n"
            }
        }
        do {
            try Data(modelJSON.utf8).write(to: dir.appendingPathComponent("model.json"), options: .atomic)
            try Data(lines.utf8).write(to: dir.appendingPathComponent("lassoboot.jsonl"), options: .atomic)
        } catch {
            throw UsageError(description: "--dump \(dir.path): cannot write model.json / lassoboot.jsonl (\(error.localizedDescription))")
        }
    }

    let start = clock.now
    let specs = try settings.indices.map { si in try (0..<reps).map { try spec(settings[si], repetition: $0) } }
    let interactive = isatty(2) != 0
    DispatchQueue.concurrentPerform(iterations: min(threads, reps - first)) { worker in
        var rep = first + worker
        while rep < reps {
            let bytes = model.csv(rows: rows, seed: seed, repetition: rep)
            if let dump {
                do {
                    try bytes.write(to: dump.appendingPathComponent("rep\(rep).csv"))
                } catch {
                    errors.withLock { $0.append("--dump: cannot write rep\(rep).csv in \(dump.path): \(error.localizedDescription)") }
                }
            }
            let count = bytes.split(separator: 10).dropFirst().reduce(0) { $0 + ($1.first == UInt8(ascii: "1") ? 1 : 0) }
            ones.withLock { $0 += count }
            for si in settings.indices {
                do {
                    let cellStart = clock.now
                    let data = try RunData(spec: specs[si][rep], csvBytes: bytes)
                    let executor = TaskExecutor(data: data)
                    let results = try LocalRunner(executor: executor, threads: 1).run()
                    let report = try Aggregation.report(data: data, executor: executor, results: results, software: "coverage")
                    let outcome = report.outcomes[0]
                    let cell = CoverageCell(
                        estimate: outcome.features.map(\.coef),
                        intervals: methods.map { m in
                            outcome.features.map { f in (f.interval(m.key)?.low ?? .nan, f.interval(m.key)?.high ?? .nan) }
                        },
                        oracleWidth: outcome.features.map { f in
                            f.debiased?.se.map { 2 * Normal.quantile(0.5 + level / 2) * $0 } ?? .nan
                        },
                        alpha: outcome.alpha,
                        alphaMax: try LogisticLasso.alphaMax(
                            design: data.design, cells: data.cells(outcome: 0, counts: data.cellCount),
                            penalty: data.penalty),
                        failedResamples: outcome.failedResamples, seconds: (clock.now - cellStart).seconds)
                    store.withLock { $0[si][rep] = cell }
                } catch {
                    errors.withLock { $0.append("\(settings[si].name) repetition \(rep): \(error)") }
                }
            }
            finished.withLock { $0[rep] = true }
            let done = progress.withLock { d -> Int in
                d += 1; return d
            }
            if interactive {
                FileHandle.standardError.write(Data("\rcoverage: \(done)/\(reps - first) repetitions   ".utf8))
            } else if done % max(1, (reps - first) / 10) == 0 {
                FileHandle.standardError.write(Data("coverage: \(done)/\(reps - first) repetitions\n".utf8))
            }
            if let dump, done % max(1, (reps - first) / 10) == 0, done < reps - first {
                dumpLock.withLock { _ in
                    // The repetitions before the first one still running: a prefix, as the peers expect.
                    let prefix = finished.withLock { $0.firstIndex(of: false) ?? reps }
                    do { try writeCoverageDump(to: dump, results: store.withLock { $0 }, prefix: prefix) } catch {
                        errors.withLock { $0.append("\(error)") }
                    }
                }
            }
            rep += threads
        }
    }
    if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    let seconds = (clock.now - start).seconds
    let results = store.withLock { $0 }
    let failures = errors.withLock { $0 }
    if let dump { try writeCoverageDump(to: dump, results: results, prefix: reps) }

    func f(_ x: Double, _ digits: Int = 3) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "-" }
    func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
        s.count >= w ? s : (left ? s + String(repeating: " ", count: w - s.count) : String(repeating: " ", count: w - s.count) + s)
    }

    print("Design: \(designName)" + (model.rho.map { ", latent Toeplitz rho = \($0)" } ?? "") + ", \(p - 1) features")
    if let plasmode = model.plasmode { print("Plasmode: \(plasmode.source)") }
    print(
        "Coverage of \(Int(level * 100))% intervals: \(first > 0 ? "repetitions \(first)..<\(reps), " : "")\(reps - first) repetitions x n = \(rows) rows, B = \(resamples) resamples, seed \(seed), \(threads) threads, \(f(seconds, 1)) s"
    )
    let observed = f(Double(ones.withLock { $0 }) / Double(rows * (reps - first)))
    if let rate = try args.double("event-rate") {
        print("Event rate \(rate): the intercept is set for that expected share of ones (observed: \(observed))")
    } else {
        print("Observed share of ones: \(observed)")
    }
    print("Model: logit P(y=1) = \(model.intercept) + " + model.features.map { "\($0.beta) * \($0.name)" }.joined(separator: " + "))
    if model.plasmode == nil {
        print(
            "       x*_bin ~ Bernoulli(p) (p = " + model.features.compactMap { f in f.binaryP.map { "\(f.name): \($0)" } }.joined(separator: ", ")
                + "), x*_cont ~ N(0,1) rounded to 0.01; features not standardized; intercept unpenalized")
    }
    print("Columns: cover = fraction of repetitions whose interval contains the true value (endpoints included) +- binomial SE;")
    print(
        "         miss0 / missAway = misses with the truth farther from / closer to zero than the interval (shrinkage shows as miss0 for large coefficients);"
    )
    print("         [0,0] = interval exactly [0, 0]; width = mean interval width; est = mean estimate\n")

    var json: [String] = []
    for (si, s) in settings.enumerated() {
        let cells = results[si].compactMap { $0 }
        let R = Double(cells.count)
        guard R > 0 else { print("\(s.name): no repetition succeeded"); continue }
        let alphas = cells.map(\.alpha)
        let meanAlpha = alphas.reduce(0, +) / R
        let meanMax = cells.map(\.alphaMax).reduce(0, +) / R
        let failed = cells.map(\.failedResamples).reduce(0, +)
        var head = "\(s.name): \(s.label); \(cells.count)/\(reps - first) repetitions"
        if s.name.hasPrefix("cv") {
            let sorted = alphas.sorted()
            head +=
                "; chosen alpha median \(String(format: "%.4g", sorted[sorted.count / 2])) (mean \(String(format: "%.4g", meanAlpha)), mean alpha_max \(String(format: "%.4g", meanMax)))"
        } else if s.name == "fixed" {
            head += "; alpha = \(String(format: "%.3g", fixedAlpha / meanMax)) x mean alpha_max"
        }
        if failed > 0 { head += "; \(failed) failed resamples in all" }
        print(head)
        for (mi, m) in methods.enumerated() {
            print("  \(m.name) intervals")
            print(
                "  " + pad("coefficient", 10, left: true) + pad("group", 10) + pad("true", 7) + pad("est", 8) + pad("cover", 8) + pad("+-SE", 7)
                    + pad("miss0", 7) + pad("missAway", 9) + pad("[0,0]", 7) + pad("width", 7) + pad("/oracle", 8))
            var classCover: [String: (covered: Double, total: Double)] = [:]
            var minCover = 1.0
            var widthRatios: [Double] = []
            var groupRows: [String: [(cover: [Double], zero: [Double])]] = [:]
            for j in 0..<p {
                let truth = model.truth[j]
                var cover = 0.0, missIn = 0.0, missOut = 0.0, exactZero = 0.0, width = 0.0, widthN = 0.0, est = 0.0
                var perRep: [Double] = [], perRepZero: [Double] = []
                var ratio = 0.0, ratioN = 0.0
                for c in cells {
                    let (lo, hi) = c.intervals[mi][j]
                    est += c.estimate[j]
                    let covered = lo.isFinite && hi.isFinite && lo <= truth && truth <= hi
                    if covered {
                        cover += 1
                    } else if lo.isFinite && hi.isFinite {
                        // Toward zero: the interval lies on zero's side of a nonzero truth (shrinkage).
                        // A zero coefficient's misses all count as away (the interval excludes 0).
                        let towardZero = (truth > 0 && hi < truth) || (truth < 0 && lo > truth)
                        if towardZero { missIn += 1 } else { missOut += 1 }
                    }
                    let z = lo == 0 && hi == 0
                    if z { exactZero += 1 }
                    if lo.isFinite && hi.isFinite { width += hi - lo; widthN += 1 }
                    if lo.isFinite && hi.isFinite && c.oracleWidth[j].isFinite && c.oracleWidth[j] > 0 {
                        ratio += (hi - lo) / c.oracleWidth[j]; ratioN += 1
                    }
                    perRep.append(covered ? 1 : 0)
                    perRepZero.append(z ? 1 : 0)
                }
                let cov = cover / R
                let se = (cov * (1 - cov) / R).squareRoot()
                groupRows[model.groups[j], default: []].append((perRep, perRepZero))
                let meanRatio = ratioN > 0 ? ratio / ratioN : .nan
                classCover[model.groups[j], default: (0, 0)].covered += cover
                classCover[model.groups[j], default: (0, 0)].total += R
                minCover = min(minCover, cov)
                if meanRatio.isFinite { widthRatios.append(meanRatio) }
                print(
                    "  " + pad(model.names[j], 10, left: true) + pad(model.groups[j], 10) + pad(f(truth, 2), 7) + pad(f(est / R), 8)
                        + pad(f(cov), 8) + pad(f(se), 7) + pad(f(missIn / R), 7) + pad(f(missOut / R), 9)
                        + pad(f(exactZero / R), 7) + pad(f(widthN > 0 ? width / widthN : .nan), 7) + pad(f(meanRatio, 2), 8))
                json.append(
                    "{\"setting\":\"\(s.name)\",\"method\":\"\(m.name)\",\"coefficient\":\"\(model.names[j])\",\"group\":\"\(model.groups[j])\",\"truth\":\(truth),\"coverage\":\(cov),\"se\":\(se),\"missTowardZero\":\(missIn / R),\"missAway\":\(missOut / R),\"exactlyZero\":\(exactZero / R),\"meanEstimate\":\(est / R),\"meanWidth\":\(widthN > 0 ? width / widthN : 0)}"
                )
            }
            // Group rows: the per-repetition mean over the group's coefficients, averaged over
            // repetitions; SE from the spread of those per-repetition means (coefficients of one
            // repetition share a data set, so they are not independent).
            for g in ["large", "small", "zero"] {
                guard let members = groupRows[g] else { continue }
                let perRep = (0..<cells.count).map { r in members.map { $0.cover[r] }.reduce(0, +) / Double(members.count) }
                let perRepZero = (0..<cells.count).map { r in members.map { $0.zero[r] }.reduce(0, +) / Double(members.count) }
                let mean = perRep.reduce(0, +) / R
                let v = perRep.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / max(R - 1, 1)
                let zeroMean = perRepZero.reduce(0, +) / R
                print(
                    "  " + pad("all " + g, 10, left: true) + pad("(\(members.count))", 10) + pad("", 7) + pad("", 8)
                        + pad(f(mean), 8) + pad(f((v / R).squareRoot()), 7) + pad("", 7) + pad("", 9) + pad(f(zeroMean), 7))
            }
            // The issue's pass criterion: every class (coverage pooled over its coefficients)
            // within 2 MC SE of 0.95, MC SE = sqrt(c (1 - c) / R) at c = 0.95; no coefficient
            // below 0.93; mean width at most 1.15x the oracle MLE Wald width.
            let mcse = (0.95 * 0.05 / R).squareRoot()
            var verdict: [String] = []
            for g in ["intercept", "large", "small", "zero"] {
                guard let c = classCover[g], c.total > 0 else { continue }
                let cov = c.covered / c.total
                let ok = abs(cov - 0.95) <= 2 * mcse
                verdict.append("\(g) \(f(cov)) (\(ok ? "ok" : "FAIL"))")
            }
            let meanWidth = widthRatios.isEmpty ? Double.nan : widthRatios.reduce(0, +) / Double(widthRatios.count)
            let pass = classCover.values.allSatisfy { abs($0.covered / $0.total - 0.95) <= 2 * mcse } && minCover >= 0.93 && meanWidth <= 1.15
            print(
                "  criterion (MC SE \(f(mcse, 4)) at 0.95, R = \(cells.count)): " + verdict.joined(separator: ", ")
                    + "; min coefficient \(f(minCover)) (\(minCover >= 0.93 ? "ok" : "FAIL")); mean width/oracle \(f(meanWidth, 2)) (\(meanWidth <= 1.15 ? "ok" : "FAIL"))"
                    + " => \(pass ? "PASS" : "FAIL")")
        }
        print("")
    }
    for e in failures.prefix(10) { print("failed: \(e)") }
    if failures.count > 10 { print("... \(failures.count - 10) more failures") }
    if args.flag("json") { for line in json { print(line) } }
}
