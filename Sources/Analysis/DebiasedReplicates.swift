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
    /// the resample's lasso fit (the one-step estimator's definition).
    func debiasedReplicate(anchor: Anchor, cells: BinomialCells?, fitter: PathFitter?, lasso: [Double]?) -> FitOutcome {
        guard let cells else { return .failed(Self.noResampleCells) }
        do {
            if let steps = data.spec.debias.newtonSteps {
                guard let lasso else { return .failed(Self.noLassoFit) }
                return .coefficients(
                    try Debias(design: data.design).estimate(cells: cells, start: lasso, newtonSteps: steps, errors: false).coefficients)
            }
            guard let mle = anchor.mle, let full = anchor.lasso?.allCoefficients else { return .failed(anchor.failure ?? Self.noLassoFit) }
            let start = lasso.map { l in mle.indices.map { mle[$0] + l[$0] - full[$0] } } ?? mle
            if data.debiasMethod == .firth {
                return .coefficients(
                    try Debias(design: data.design).estimate(cells: cells, start: start, errors: false, biasReduction: true).coefficients)
            }
            let solver = try fitter ?? PathFitter(design: data.design, cells: cells, penalty: data.penalty, options: options)
            return .coefficients(try solver.maximumLikelihood(start: start).allCoefficients)
        } catch {
            return .failed(Self.debiasCause(error))
        }
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
            if debiased, let lasso = a.lasso {
                do {
                    if data.debiasMethod == .firth {
                        a.mle = try Debias(design: data.design).estimate(
                            cells: cells, start: lasso.allCoefficients, errors: false, biasReduction: true
                        ).coefficients
                    } else {
                        a.mle = try fitter.maximumLikelihood(start: lasso.allCoefficients).allCoefficients
                    }
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
