import Foundation
import Lasso
import Plan
import Resampling
import Synchronization
import Tabular

/// Executes tasks: pure functions of (RunData, key, phase-2 input).
public struct TaskExecutor: Sendable {
    public let data: RunData
    /// Resamples given from outside (per-cell row counts), replacing the generator.
    public let importedResamples: [[Int32]]?
    /// Full-data fits the bootstrap tasks start from, computed once per process.
    let anchors = AnchorCache()
    /// Nodewise preparations (desparsified lasso), computed once per process.
    let nodewiseCache = NodewiseCache()

    public init(data: RunData, importedResamples: [[Int32]]? = nil) {
        self.data = data
        self.importedResamples = importedResamples
    }

    /// Number of bootstrap resamples this run draws.
    public var resampleCount: Int { importedResamples?.count ?? data.spec.bootstrap.resamples }

    /// Prepares a run from its spec text, data bytes and optional resample index matrix bytes:
    /// the one way the coordinator and every worker build the same executor.
    ///
    /// Executors are cached per process by (spec, data hash, indices hash), so a coordinator and
    /// a worker in the same process (`lassoboot run`) prepare the data once.
    public static func prepare(
        spec: String, source: String, data: Data, dataHash: String? = nil,
        resampleIndices: Data?, indicesHash: String? = nil, cache: DatasetCache? = nil
    ) throws -> TaskExecutor {
        let key = dataHash.map { "\($0)|\(indicesHash ?? (resampleIndices == nil ? "-" : "?"))|\(spec)" }
        if let key, !key.contains("|?|"), let cached = PreparedCache.shared.get(key) { return cached }
        let runSpec = try RunSpec.parse(Data(spec.utf8), source: source, baseDirectory: "/")
        let runData = try RunData(spec: runSpec, csvBytes: data, hash: dataHash, cache: cache)
        let imported = try resampleIndices.map {
            try importResamples(text: String(decoding: $0, as: UTF8.self), source: "resample indices of \(source)", data: runData)
        }
        let executor = TaskExecutor(data: runData, importedResamples: imported)
        if let key, !key.contains("|?|") { PreparedCache.shared.put(key, executor) }
        return executor
    }

    /// Reads an external resample index matrix: one line per resample, each the comma- or
    /// space-separated 0-based indices of the kept rows drawn (any count, repeats allowed), as
    /// exported from scipy or R. Returned as per-cell counts.
    public static func importResamples(text: String, source: String, data: RunData) throws -> [[Int32]] {
        var result: [[Int32]] = []
        var line = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            line += 1
            let fields = raw.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            var counts = [Int32](repeating: 0, count: data.cellCount.count)
            for (column, f) in fields.enumerated() {
                guard let i = Int(f), i >= 0, i < data.rowCount else {
                    throw TabularError(
                        file: source, line: line, column: column + 1,
                        message: "expected a row index in 0...\(data.rowCount - 1) (rows kept by the spec), found '\(f.prefix(20))'")
                }
                counts[Int(data.rowCell[i])] += 1
            }
            result.append(counts)
        }
        if result.isEmpty { throw TabularError(file: source, message: "the resample index file has no resamples") }
        return result
    }

    var options: SolverOptions { SolverOptions(tolerance: data.spec.tolerance) }

    /// All phase-1 task keys.
    public func phaseOneKeys() -> [TaskKey] { Self.phaseOneKeys(spec: data.spec) }

    /// The phase-1 task keys of a spec (they need no data: the coordinator plans them before the
    /// data is prepared).
    public static func phaseOneKeys(spec: RunSpec) -> [TaskKey] {
        var keys = (0..<spec.data.outcomes.count).flatMap { o in (0..<spec.cv.folds).map { TaskKey.cv(outcome: o, fold: $0) } }
        if let st = spec.stability {
            for start in stride(from: 0, to: st.pairs, by: st.batch) {
                keys.append(.stability(start: start, end: min(start + st.batch, st.pairs)))
            }
        }
        return keys
    }

    /// All phase-2 task keys.
    public func phaseTwoKeys() -> [TaskKey] {
        var keys = (0..<data.outcomeCount).map { TaskKey.estimate(outcome: $0) }
        let b = data.spec.bootstrap
        for start in stride(from: 0, to: resampleCount, by: b.batch) {
            keys.append(.bootstrap(start: start, end: min(start + b.batch, resampleCount)))
        }
        if b.methods.contains(.bca) {
            for o in 0..<data.outcomeCount {
                let cells = jackknifeCells(outcome: o).count
                for start in stride(from: 0, to: cells, by: 256) {
                    keys.append(.jackknife(outcome: o, start: start, end: min(start + 256, cells)))
                }
            }
        }
        if data.debiasMethod == .nodewise {
            // Rows 0 ..< p are the features, row p the intercept.
            let rows = data.design.featureCount + 1, batch = Self.nodewiseBatch
            for o in 0..<data.outcomeCount {
                for start in stride(from: 0, to: rows, by: batch) { keys.append(.nodewise(outcome: o, start: start, end: min(start + batch, rows))) }
            }
        }
        return keys
    }

    /// Runs one task. Phase-2 tasks need the phase-1 choice.
    public func run(_ key: TaskKey, input: PhaseTwoInput?) -> TaskResult {
        switch key {
        case let .cv(o, f):
            return crossValidate(outcome: o, trainingCounts: data.trainingCounts(fold: f), heldOutCounts: data.foldCellCount[f])
        case let .estimate(o):
            let alpha = input!.alphas[o]
            do {
                let cells = try data.cells(outcome: o, counts: data.cellCount)
                let fit = try LogisticLasso.fit(design: data.design, cells: cells, alpha: alpha, penalty: data.penalty, options: options)
                return .estimate(.coefficients(fit.allCoefficients), kktViolation: fit.kktViolation, iterations: fit.iterations)
            } catch {
                return .estimate(.failed("\(error)"), kktViolation: .nan, iterations: 0)
            }
        case let .bootstrap(start, end):
            return bootstrap(start: start, end: end, input: input!)
        case let .jackknife(o, start, end):
            return jackknife(outcome: o, start: start, end: end, alpha: input!.alphas[o])
        case let .nodewise(o, start, end):
            return nodewise(outcome: o, start: start, end: end, alpha: input!.alphas[o])
        case let .stability(start, end):
            var rows: [[[Int]?]] = []
            let penalty = stabilityPenalty()
            for pair in start..<end {
                for half in stabilityHalves(pair: pair) {
                    rows.append((0..<data.outcomeCount).map { o in try? stabilitySelection(outcome: o, counts: half, penalty: penalty) })
                }
            }
            return .stability(selected: rows)
        }
    }

    /// Penalized features (those stability selection chooses among), ascending.
    public var penalizedFeatures: [Int] {
        (0..<data.design.featureCount).filter { (data.penalty.factors?[$0] ?? 1) > 0 }
    }

    /// The two disjoint halves of pair `pair` as per-cell counts: the kept rows in a random
    /// order from the seed, the first floor(n/2) one half, the next floor(n/2) the other (with
    /// n odd one row sits out), as Shah & Samworth's complementary pairs.
    public func stabilityHalves(pair: Int) -> [[Int]] {
        let n = data.rowCount, m = n / 2
        var stream = RandomStream(seed: data.spec.seed, purpose: .stabilityHalves, index: UInt64(pair))
        var rows = Array(0..<n)
        var halves = [[Int]](repeating: [Int](repeating: 0, count: data.cellCount.count), count: 2)
        // Partial Fisher-Yates: position i gets a uniform pick of the rows not yet placed.
        for i in 0..<(2 * m) {
            let j = i + stream.nextIndex(below: n - i)
            rows.swapAt(i, j)
            halves[i < m ? 0 : 1][Int(data.rowCell[rows[i]])] += 1
        }
        return halves
    }

    /// The penalty of the stability paths: the spec's penalty, standardized (each half-sample
    /// on its own SDs), which is the lasso on standardized features (glmnet's default, which
    /// stabs' `glmnet.lasso` uses), so the order in which features enter the path does not
    /// depend on their units even when the spec's own fits are not standardized.
    public func stabilityPenalty() -> Penalty {
        var penalty = data.penalty
        penalty.standardize = true
        return penalty
    }

    /// The first q penalized features to enter the lasso path of outcome `o` on `counts`: 100
    /// alphas geometric from the half's own alpha_max down to 1e-3 of it, on standardized features
    /// (``stabilityPenalty()``); the union of active sets is kept while it holds at most q features
    /// (features entering together beyond q stop the path). Ascending feature indices.
    public func stabilitySelection(outcome o: Int, counts: [Int], penalty: Penalty) throws -> [Int] {
        guard let st = data.spec.stability else { return [] }
        let penalized = penalizedFeatures
        let q = st.selectionSize(penalizedFeatures: penalized.count)
        let cells = try data.cells(outcome: o, counts: counts)
        var pathOptions = options
        pathOptions.computeObjective = false
        let top = try LogisticLasso.alphaMax(design: data.design, cells: cells, penalty: penalty)
        guard top > 0 && top.isFinite else { return [] }  // no feature ever enters
        let fitter = try PathFitter(design: data.design, cells: cells, penalty: penalty, options: pathOptions)
        var selected = Set<Int>()
        var previous: LassoFit?
        for alpha in LogisticLasso.geometricGrid(max: top, count: 100, minRatio: 1e-3) {
            let fit = try fitter.fit(alpha: alpha, warmStart: previous)
            previous = fit
            let union = selected.union(penalized.filter { fit.coefficients[$0] != 0 })
            if union.count > q { break }
            selected = union
            if selected.count == q { break }
        }
        return selected.sorted()
    }

    /// The alpha path on `trainingCounts`, scored on `heldOutCounts`.
    func crossValidate(outcome o: Int, trainingCounts: [Int], heldOutCounts: [Int]) -> TaskResult {
        let grid = data.grids[o]
        let trainWeight = Double(trainingCounts.reduce(0, +))
        var scores: [Double?] = []
        var failures: [String?] = []
        let heldOut = heldOutCounts.reduce(0, +)
        do {
            let train = try data.cells(outcome: o, counts: trainingCounts)
            let test = try data.cells(outcome: o, counts: heldOutCounts)
            var pathOptions = options
            pathOptions.computeObjective = false  // only the coefficients are scored
            let fitter = try PathFitter(design: data.design, cells: train, penalty: data.penalty, options: pathOptions)
            let scorer = HeldOutScorer(data: data, cells: test)
            var previous: LassoFit?
            for alpha in grid {
                do {
                    let fit = try fitter.fit(alpha: data.scaledAlpha(alpha, weight: trainWeight), warmStart: previous)
                    previous = fit
                    if let score = scorer.score(fit, metric: data.spec.cv.metric) {
                        scores.append(score)
                        failures.append(nil)
                    } else {
                        scores.append(nil)
                        failures.append(
                            "the held-out fold has only one outcome level: its \(data.spec.cv.metric == .auc ? "AUC" : "score") is undefined")
                    }
                } catch {
                    scores.append(nil)
                    failures.append("\(error)")
                }
            }
        } catch {
            return .cv(scores: grid.map { _ in nil }, failures: grid.map { _ in "\(error)" }, heldOutWeight: Double(heldOut))
        }
        return .cv(scores: scores, failures: failures, heldOutWeight: Double(heldOut))
    }

    /// Draws resample `r` (from the seed, or from an imported index matrix).
    public func resampleCounts(_ r: Int) -> [Int] {
        if let imported = importedResamples { return imported[r].map { Int($0) } }
        var stream = RandomStream(seed: data.spec.seed, purpose: .bootstrap, index: UInt64(r))
        return BootstrapDraw.multinomial(counts: data.cellCount, stream: &stream)
    }

    func bootstrap(start: Int, end: Int, input: PhaseTwoInput) -> TaskResult {
        let k = data.outcomeCount
        var fits: [[FitOutcome]] = []
        var chosen: [[Double]] = []
        let debiasing = data.debiasesReplicates
        var debiased: [[FitOutcome]] = []
        // Warm starts from the full-data fits at the chosen alphas.
        let anchors = (0..<k).map { anchor(outcome: $0, alpha: input.alphas[$0], debiased: debiasing) }
        for r in start..<end {
            let counts = resampleCounts(r)
            var alphas = input.alphas
            if data.spec.bootstrap.nested {
                alphas = nestedChoice(resample: r, counts: counts)
                chosen.append(alphas)
            }
            var row: [FitOutcome] = [], debiasedRow: [FitOutcome] = []
            for o in 0..<k {
                var fitter: PathFitter?, cells: BinomialCells?, lasso: [Double]?
                do {
                    let resampleCells = try data.cells(outcome: o, counts: counts)
                    cells = resampleCells
                    guard alphas[o].isFinite else { throw NestedCVFailure() }
                    fitter = try PathFitter(design: data.design, cells: resampleCells, penalty: data.penalty, options: options)
                    let fit = try fitter!.fit(alpha: alphas[o], warmStart: anchors[o].lasso)
                    lasso = fit.allCoefficients
                    row.append(.coefficients(fit.allCoefficients))
                } catch {
                    row.append(.failed(Self.cause(error)))
                }
                if debiasing {
                    debiasedRow.append(debiasedReplicate(anchor: anchors[o], cells: cells, fitter: fitter, lasso: lasso))
                }
            }
            fits.append(row)
            if debiasing { debiased.append(debiasedRow) }
        }
        return .bootstrap(fits: fits, chosenAlphas: data.spec.bootstrap.nested ? chosen : nil, debiased: debiasing ? debiased : nil)
    }

    struct NestedCVFailure: Error, CustomStringConvertible {
        var description: String { "nested cross-validation failed for every alpha" }
    }

    /// A short, stable cause for counting failures (numbers removed so equal causes group).
    static func cause(_ error: Error) -> String {
        switch error {
        case let e as LassoError:
            switch e {
            case .constantOutcome: return "outcome constant in the resample"
            case .separation: return "separation (unpenalized coefficient diverges)"
            case .notConverged: return "solver did not converge"
            case .notIdentifiable: return "coefficient not identifiable"
            default: return "\(e)"
            }
        default: return "\(error)"
        }
    }

    /// The distinct (pattern, outcome value) cells of one outcome with their row counts: the
    /// delete-one-row jackknife needs one fit per such cell.
    public func jackknifeCells(outcome o: Int) -> [(pattern: Int, y: Double, rows: Int)] {
        var index: [Int: Int] = [:]
        var cells: [(pattern: Int, y: Double, rows: Int)] = []
        for c in 0..<data.cellCount.count {
            let key = data.cellPattern[c] * 2 + Int(data.cellOutcomes[c][o])
            if let i = index[key] {
                cells[i].rows += data.cellCount[c]
            } else {
                index[key] = cells.count
                cells.append((data.cellPattern[c], data.cellOutcomes[c][o], data.cellCount[c]))
            }
        }
        return cells
    }

    func jackknife(outcome o: Int, start: Int, end: Int, alpha: Double) -> TaskResult {
        let all = jackknifeCells(outcome: o)
        guard let base = try? data.cells(outcome: o, counts: data.cellCount) else {
            return .jackknife(fits: (start..<end).map { _ in .failed("no data") })
        }
        let warm = try? LogisticLasso.fit(design: data.design, cells: base, alpha: alpha, penalty: data.penalty, options: options)
        var fits: [FitOutcome] = []
        var cells = base
        for c in start..<end {
            let (pattern, y, _) = all[c]
            cells.trials[pattern] -= 1
            cells.successes[pattern] -= y
            do {
                let n = Double(data.rowCount - 1)
                let fit = try LogisticLasso.fit(
                    design: data.design, cells: cells, alpha: data.scaledAlpha(alpha, weight: n),
                    penalty: data.penalty, options: options, warmStart: warm)
                fits.append(.coefficients(fit.allCoefficients))
            } catch {
                fits.append(.failed(Self.cause(error)))
            }
            cells.trials[pattern] += 1
            cells.successes[pattern] += y
        }
        return .jackknife(fits: fits)
    }
}

/// A small per-process cache of prepared runs (most recent few).
final class PreparedCache: Sendable {
    static let shared = PreparedCache()
    let entries = Mutex<[(String, TaskExecutor)]>([])

    func get(_ key: String) -> TaskExecutor? {
        entries.withLock { e in e.first { $0.0 == key }?.1 }
    }

    func put(_ key: String, _ executor: TaskExecutor) {
        entries.withLock { e in
            e.removeAll { $0.0 == key }
            e.insert((key, executor), at: 0)
            if e.count > 4 { e.removeLast(e.count - 4) }
        }
    }
}
