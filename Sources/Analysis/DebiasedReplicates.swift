import Foundation
import Lasso
import Plan
import Synchronization

// The debiased estimate of every bootstrap resample, made inside the bootstrap task from the
// resample's own lasso fit and the full-data fits (the anchors, computed once per process).

extension TaskExecutor {
    /// One resample's debiased estimate for one outcome: with converged steps the resample's
    /// maximum-likelihood fit (the solver at alpha 0, certified by its KKT conditions) from the
    /// full-data one moved as the lasso fit moved; with a step count, that many Newton steps from
    /// the resample's lasso fit (the one-step estimator's definition). A feature absent from the
    /// resample gets exactly 0 (see ``debiasedEstimate(cells:start:fitter:)``).
    func debiasedReplicate(anchor: Anchor, cells: BinomialCells?, fitter: PathFitter?, lasso: [Double]?) -> FitOutcome {
        guard let cells else { return .failed(Self.noResampleCells) }
        do {
            if data.spec.debias.newtonSteps != nil {
                guard let lasso else { return .failed(Self.noLassoFit) }
                return .coefficients(try debiasedEstimate(cells: cells, start: lasso))
            }
            guard let mle = anchor.mle, let full = anchor.lasso?.allCoefficients else { return .failed(anchor.failure ?? Self.noLassoFit) }
            let start = lasso.map { l in mle.indices.map { mle[$0] + l[$0] - full[$0] } } ?? mle
            return .coefficients(try debiasedEstimate(cells: cells, start: start, fitter: fitter))
        } catch {
            return .failed(Self.debiasCause(error))
        }
    }

    /// The run's debiased estimate on `cells` from `start` (`newtonSteps` Newton steps, Firth's
    /// estimate, or the maximum-likelihood fit), without its standard errors. Features absent
    /// from the cells are left out of the problem and get exactly 0: the aggregation recognizes
    /// them (an exact 0 on a feature with no rows in the resample) and leaves them out of that
    /// feature's bootstrap distribution instead of failing the whole resample. `fitter` is a
    /// solver already built on `cells`, reused when nothing is absent; `present` is the cells'
    /// problem when the caller has formed it already.
    func debiasedEstimate(cells: BinomialCells, start: [Double], fitter: PathFitter? = nil, present: PresentFeatures? = nil) throws -> [Double] {
        let present = try present ?? PresentFeatures(data.design, cells: cells)
        let reduced = present.reduce(start)
        let values: [Double]
        if let steps = data.spec.debias.newtonSteps {
            values = try Debias(design: present.design).estimate(cells: present.cells, start: reduced, newtonSteps: steps, errors: false)
                .coefficients
        } else if data.debiasMethod == .firth {
            values = try Debias(design: present.design).estimate(cells: present.cells, start: reduced, errors: false, biasReduction: true)
                .coefficients
        } else {
            let solver =
                try (present.absent.isEmpty ? fitter : nil)
                ?? PathFitter(design: present.design, cells: present.cells, penalty: present.penalty(data.penalty), options: options)
            values = try solver.maximumLikelihood(start: reduced).allCoefficients
        }
        return present.expand(values, fill: 0)
    }

    /// The debiased replicate's failure when the resample's lasso fit, which it starts from, failed.
    static let noLassoFit = "noLassoFit"
    /// The debiased replicate's failure when the resample's cells could not be formed.
    static let noResampleCells = "noResampleCells"

    /// A ``Lasso/DebiasFailure/flag`` for an error of Newton steps or of the solver at alpha 0.
    static func debiasCause(_ error: Error) -> String {
        switch error {
        case let f as DebiasFailure: return f.flag
        case LassoError.notIdentifiable: return DebiasFailure.nearSingularHessian(conditionNumber: .infinity).flag
        default: return DebiasFailure.notConverged(steps: 0).flag
        }
    }

    /// The full-data fits a bootstrap task starts from, for one outcome at one alpha.
    struct Anchor: Sendable {
        /// The lasso fit on the full data (warm start of every resample's fit).
        var lasso: LassoFit?
        /// The unpenalized maximum-likelihood fit on the full data (start of debiased replicates).
        var mle: [Double]?
        /// Why `mle` is missing.
        var failure: String?
    }

    /// The full-data fits for `outcome` at `alpha`: computed once per process, the same in every
    /// process (a pure function of the data and the run), so results do not depend on who runs a task.
    func anchor(outcome o: Int, alpha: Double, debiased: Bool) -> Anchor {
        let key = AnchorCache.Key(outcome: o, alpha: alpha.bitPattern, debiased: debiased)
        if let a = anchors.get(key) { return a }
        var a = Anchor()
        if let cells = try? data.cells(outcome: o, counts: data.cellCount),
            let fitter = try? PathFitter(design: data.design, cells: cells, penalty: data.penalty, options: options)
        {
            a.lasso = try? fitter.fit(alpha: alpha)
            if debiased, data.spec.debias.newtonSteps == nil, let lasso = a.lasso {
                do {
                    a.mle = try debiasedEstimate(cells: cells, start: lasso.allCoefficients, fitter: fitter)
                } catch { a.failure = Self.debiasCause(error) }
            }
        }
        anchors.put(key, a)
        return a
    }
}

/// The bootstrap tasks' full-data fits of one executor (``TaskExecutor/anchor(outcome:alpha:debiased:)``).
final class AnchorCache: Sendable {
    struct Key: Hashable { let outcome: Int, alpha: UInt64, debiased: Bool }
    let entries = Mutex<[Key: TaskExecutor.Anchor]>([:])

    func get(_ key: Key) -> TaskExecutor.Anchor? { entries.withLock { $0[key] } }
    func put(_ key: Key, _ anchor: TaskExecutor.Anchor) { entries.withLock { $0[key] = anchor } }
}

/// The problem of one set of cells with the features absent from it left out
/// (``Lasso/CompressedDesign/absentFeatures(in:)``: 0 in every pattern with rows, as a rare
/// feature is in a subsample or a resample). Their coefficients are not identified, and keeping
/// them would make the Hessian singular and cost every other coefficient its debiased estimate.
/// With nothing absent it is the original problem, untouched.
struct PresentFeatures {
    /// The features left out, ascending.
    let absent: [Int]
    /// The design of the other features over the patterns with rows (in their original order:
    /// they stay distinct, since a left-out column is 0 on all of them).
    let design: CompressedDesign
    let cells: BinomialCells
    private let kept: [Int]
    private let width: Int

    init(_ design: CompressedDesign, cells: BinomialCells, absent: [Int]? = nil) throws {
        let absent = absent ?? design.absentFeatures(in: cells)
        self.absent = absent
        width = design.featureCount + 1
        guard !absent.isEmpty else {
            (self.design, self.cells, kept) = (design, cells, Array(0..<design.featureCount))
            return
        }
        let left = Set(absent)
        kept = (0..<design.featureCount).filter { !left.contains($0) }
        let live = (0..<design.patternCount).filter { cells.trials[$0] > 0 }
        let reduced = try CompressedDesign(
            featureNames: kept.map { design.featureNames[$0] },
            columns: kept.map { j in live.map { design.value(pattern: $0, feature: j) } })
        guard reduced.patternCount == live.count else { throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity) }
        var successes = [Double](repeating: 0, count: reduced.stride), trials = successes
        for (k, pattern) in live.enumerated() { (successes[k], trials[k]) = (cells.successes[pattern], cells.trials[pattern]) }
        self.design = reduced
        self.cells = BinomialCells(successes: successes, trials: trials, patternCount: live.count)
    }

    /// Intercept and kept coefficients of a full-width vector.
    func reduce(_ values: [Double]) -> [Double] { absent.isEmpty ? values : [values[0]] + kept.map { values[$0 + 1] } }

    /// A full-width vector from the reduced problem's, with `fill` for the left-out features.
    func expand(_ values: [Double], fill: Double) -> [Double] {
        guard !absent.isEmpty, !values.isEmpty else { return values }
        var out = [Double](repeating: fill, count: width)
        out[0] = values[0]
        for (k, j) in kept.enumerated() { out[j + 1] = values[k + 1] }
        return out
    }

    /// The penalty with the left-out features' factors removed.
    func penalty(_ penalty: Penalty) -> Penalty {
        guard !absent.isEmpty, let factors = penalty.factors else { return penalty }
        var p = penalty
        p.factors = kept.map { factors[$0] }
        return p
    }
}
