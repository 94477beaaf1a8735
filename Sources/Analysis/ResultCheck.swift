import Lasso
import Plan

/// Checks of a task result handed in by a worker, beside the executor that defines what a
/// correct result is: shape and range (``TaskExecutor/validate(_:key:)``), then the KKT
/// certificate of every fit (``TaskExecutor/certify(_:key:input:)``). The coordinator stores
/// only results that pass both, so a buggy or hostile worker cannot move a published number
/// with a result of the right shape.
extension TaskExecutor {
    /// Largest KKT violation (mean scale) accepted from a worker's fit: the solver certifies
    /// `spec.tolerance`; recomputing the gradient in another order adds rounding.
    public var certificateTolerance: Double { max(100 * data.spec.tolerance, 1e-9) }

    /// Checks that `key` can be a task of this run (outcome, fold, resample and cell ranges);
    /// returns the problem, if any. Cheap: done before anything else about a submission.
    public func keyProblem(_ key: TaskKey) -> String? {
        let outcomes = data.outcomeCount
        switch key {
        case let .cv(o, f):
            guard (0..<outcomes).contains(o), (0..<data.spec.cv.folds).contains(f) else {
                return "no outcome \(o) or fold \(f) (outcomes 0..<\(outcomes), folds 0..<\(data.spec.cv.folds))"
            }
        case let .estimate(o):
            guard (0..<outcomes).contains(o) else { return "no outcome \(o) (outcomes 0..<\(outcomes))" }
        case let .bootstrap(start, end):
            let batch = data.spec.bootstrap.batch
            guard start >= 0, start < resampleCount, start % batch == 0, end == min(start + batch, resampleCount) else {
                return "no bootstrap task \(start)-\(end) in this run (\(resampleCount) resamples)"
            }
        case let .jackknife(o, start, end):
            guard (0..<outcomes).contains(o), data.spec.bootstrap.methods.contains(.bca), start >= 0, start % 256 == 0, end > start,
                end - start <= 256
            else {
                return "no jackknife task \(o)/\(start)-\(end) in this run"
            }
        case let .stability(start, end):
            return stabilityKeyProblem(start: start, end: end)
        case let .nodewise(o, start, end):
            return nodewiseKeyProblem(outcome: o, start: start, end: end)
        }
        return nil
    }

    func nodewiseKeyProblem(outcome o: Int, start: Int, end: Int) -> String? {
        let rows = data.design.featureCount + 1, batch = Self.nodewiseBatch
        guard data.debiasMethod == .nodewise, (0..<data.outcomeCount).contains(o), start >= 0, start < rows, start % batch == 0,
            end == min(start + batch, rows)
        else {
            return "no nodewise task \(o)/\(start)-\(end) in this run"
        }
        return nil
    }

    func stabilityKeyProblem(start: Int, end: Int) -> String? {
        guard let st = data.spec.stability else { return "this run has no stability selection" }
        guard start >= 0, start < st.pairs, start % st.batch == 0, end == min(start + st.batch, st.pairs) else {
            return "no stability task \(start)-\(end) in this run (\(st.pairs) pairs in batches of \(st.batch))"
        }
        return nil
    }

    /// Checks that `key` is a task of this run and `result` has its shape, finite numbers and
    /// in-range scores; returns the problem, if any.
    public func validate(_ result: TaskResult, key: TaskKey) -> String? {
        let width = data.design.featureCount + 1
        func check(_ fit: FitOutcome) -> String? {
            switch fit {
            case let .coefficients(c):
                if c.count != width { return "expected \(width) coefficients, got \(c.count)" }
                if let bad = c.first(where: { !$0.isFinite }) { return "non-finite coefficient \(bad)" }
                return nil
            case let .failed(cause):
                if cause.isEmpty { return "empty failure cause" }
                return cause.utf8.count > 4096 ? "failure cause longer than 4096 bytes" : nil
            }
        }
        let outcomes = data.outcomeCount
        switch (key, result) {
        case let (.cv(o, f), .cv(scores, failures, weight)):
            guard (0..<outcomes).contains(o), (0..<data.spec.cv.folds).contains(f) else {
                return "no outcome \(o) or fold \(f) (outcomes 0..<\(outcomes), folds 0..<\(data.spec.cv.folds))"
            }
            if scores.count != data.grids[o].count || failures.count != scores.count { return "expected \(data.grids[o].count) scores" }
            for (s, cause) in zip(scores, failures) {
                switch (s, cause) {
                case let (score?, nil):
                    guard score.isFinite else { return "non-finite score \(score)" }
                    switch data.spec.cv.metric {
                    case .auc: if !(0...1).contains(score) { return "AUC \(score) outside [0, 1]" }
                    case .deviance: if score < 0 { return "deviance \(score) is negative" }
                    }
                case let (nil, cause?):
                    if cause.isEmpty || cause.utf8.count > 4096 { return "a failure cause must have 1 to 4096 bytes" }
                default:
                    return "every alpha needs either a score or a failure cause"
                }
            }
            if weight != Double(data.foldCellCount[f].reduce(0, +)) { return "held-out weight \(weight) does not match fold \(f)" }
            return nil
        case let (.estimate(o), .estimate(fit, kkt, iterations)):
            guard (0..<outcomes).contains(o) else { return "no outcome \(o) (outcomes 0..<\(outcomes))" }
            if iterations < 0 { return "negative iteration count" }
            if case .coefficients = fit, !(kkt.isFinite && kkt >= 0) { return "KKT violation \(kkt) is not a finite non-negative number" }
            return check(fit)
        case let (.bootstrap(start, end), .bootstrap(fits, chosen, debiased)):
            let batch = data.spec.bootstrap.batch
            guard start >= 0, start < resampleCount, start % batch == 0, end == min(start + batch, resampleCount) else {
                return "no bootstrap task \(start)-\(end) in this run (\(resampleCount) resamples)"
            }
            if fits.count != end - start { return "expected \(end - start) resamples, got \(fits.count)" }
            for row in fits {
                if row.count != outcomes { return "expected \(outcomes) outcomes per resample" }
                for f in row { if let p = check(f) { return p } }
            }
            if data.debiasesReplicates != (debiased != nil) {
                return debiased == nil
                    ? "debiased replicates missing (the run asks for debiased intervals by Newton steps)"
                    : "debiased replicates in a run without Newton-step debiased intervals"
            }
            if let debiased {
                if debiased.count != fits.count { return "expected \(fits.count) resamples of debiased replicates, got \(debiased.count)" }
                for row in debiased {
                    if row.count != outcomes { return "expected \(outcomes) debiased replicates per resample" }
                    for f in row { if let p = check(f) { return "debiased replicate: \(p)" } }
                }
            }
            if data.spec.bootstrap.nested != (chosen != nil) { return "nested alphas present or missing" }
            if let chosen {
                if chosen.count != fits.count || chosen.contains(where: { $0.count != outcomes }) { return "bad nested alphas" }
                for (r, alphas) in chosen.enumerated() {
                    for (o, a) in alphas.enumerated() {
                        // A nested choice is an alpha of the outcome's grid (or not finite when every alpha failed).
                        if a.isFinite && !data.grids[o].contains(a) { return "nested alpha \(a) of resample \(start + r) is not on the grid" }
                    }
                }
            }
            return nil
        case let (.jackknife(o, start, end), .jackknife(fits)):
            guard (0..<outcomes).contains(o), data.spec.bootstrap.methods.contains(.bca), start >= 0, start % 256 == 0, end > start,
                end - start <= 256
            else {
                return "no jackknife task \(o)/\(start)-\(end) in this run"
            }
            if fits.count != end - start { return "expected \(end - start) jackknife fits, got \(fits.count)" }
            for f in fits { if let p = check(f) { return p } }
            return nil
        case let (.nodewise(o, start, end), .nodewise(lambdas, features)):
            if let p = nodewiseKeyProblem(outcome: o, start: start, end: end) { return p }
            if features.count != end - start { return "expected \(end - start) nodewise features, got \(features.count)" }
            if lambdas.contains(where: { !($0.isFinite && $0 >= 0) }) { return "nodewise lambdas must be finite and >= 0" }
            if let fixed = data.spec.debias.nodewiseLambda, !lambdas.isEmpty, lambdas != [fixed] {
                return "the nodewise lambda is not the spec's \(fixed)"
            }
            let width = Self.nodewiseWidth * lambdas.count
            for row in features {
                if row.count != width { return "expected \(width) numbers per nodewise feature, got \(row.count)" }
                if row.contains(where: { $0.isNaN }) { return "NaN in a nodewise row" }
            }
            return nil
        case let (.stability(start, end), .stability(selected)):
            if let p = stabilityKeyProblem(start: start, end: end) { return p }
            if selected.count != 2 * (end - start) { return "expected \(2 * (end - start)) half-samples, got \(selected.count)" }
            let penalized = Set(penalizedFeatures)
            let q = data.spec.stability!.selectionSize(penalizedFeatures: penalized.count)
            for row in selected {
                if row.count != outcomes { return "expected \(outcomes) outcomes per half-sample" }
                for case let set? in row {
                    if set.count > q { return "a half-sample selected \(set.count) features, more than q = \(q)" }
                    if zip(set, set.dropFirst()).contains(where: { $0 >= $1 }) { return "selected features must be ascending and distinct" }
                    if let bad = set.first(where: { !penalized.contains($0) }) {
                        return "selected feature \(bad) is not a penalized feature of this run"
                    }
                }
            }
            return nil
        default:
            return "the result's kind does not match the task"
        }
    }

    /// Checks the KKT certificate of every coefficient fit in a validated phase-2 result (the
    /// problem each fit claims to solve is rebuilt from the run: resample counts, alpha,
    /// penalty); returns the first fit that does not solve its problem. CV results carry
    /// scores, not fits: they are checked by recomputation instead.
    public func certify(_ result: TaskResult, key: TaskKey, input: PhaseTwoInput?) -> String? {
        let tolerance = certificateTolerance
        func check(_ fit: FitOutcome, outcome o: Int, counts: [Int], alpha: Double, what: String) -> String? {
            guard case let .coefficients(c) = fit else { return nil }
            do {
                let cells = try data.cells(outcome: o, counts: counts)
                let v = try LogisticLasso.kktViolation(design: data.design, cells: cells, alpha: alpha, penalty: data.penalty, coefficients: c)
                return v <= tolerance ? nil : "\(what): KKT violation \(v) > \(tolerance) (the coefficients do not solve the task's problem)"
            } catch {
                return "\(what): \(error)"
            }
        }
        switch (key, result) {
        case (.cv, .cv), (.stability, .stability):
            return nil
        case let (.nodewise(o, start, end), .nodewise(lambdas, features)):
            // Projections carry no optimality condition: the first feature is recomputed, and the
            // intercept's row where the task has it.
            guard let input else { return "no phase-2 input" }
            guard let prep = nodewisePreparation(outcome: o, alpha: input.alphas[o]) else {
                return lambdas.isEmpty ? nil : "nodewise results for an outcome whose lasso fit failed"
            }
            guard lambdas == prep.lambdas, let first = features.first else { return "nodewise \(o)/\(start): not the run's lambda grid" }
            let p = data.design.featureCount
            for (j, row) in [(start, first), (p, features[features.count - 1])] where j == start || end == p + 1 {
                let expected = nodewiseRow(prep, feature: j)
                guard row.count == expected.count,
                    zip(row, expected).allSatisfy({ $0 == $1 || abs($0 - $1) <= 1e-9 * max(1, abs($1)) })
                else {
                    return "nodewise \(o)/\(start): \(j == p ? "the intercept" : "feature \(j)") does not match its recomputation"
                }
            }
            return nil
        case let (.estimate(o), .estimate(fit, _, _)):
            guard let input else { return "no phase-2 input" }
            return check(fit, outcome: o, counts: data.cellCount, alpha: input.alphas[o], what: "estimate/o\(o)")
        case let (.bootstrap(start, _), .bootstrap(fits, chosen, debiased)):
            guard let input else { return "no phase-2 input" }
            for (i, row) in fits.enumerated() {
                let counts = resampleCounts(start + i)
                for (o, fit) in row.enumerated() {
                    let alpha = chosen?[i][o] ?? input.alphas[o]
                    if let p = check(fit, outcome: o, counts: counts, alpha: alpha, what: "resample \(start + i), outcome \(o)") { return p }
                    guard let d = debiased?[i][o], case let .coefficients(b) = d else { continue }
                    let what = "resample \(start + i), outcome \(o), debiased"
                    guard let cells = try? data.cells(outcome: o, counts: counts) else { return "\(what): the resample has no cells" }
                    // A feature absent from the resample is left out of its problem, at exactly 0.
                    guard let present = try? PresentFeatures(data.design, cells: cells) else {
                        return "\(what): its problem without the absent features cannot be formed"
                    }
                    if let j = present.absent.first(where: { b[$0 + 1] != 0 }) {
                        return "\(what): feature \(j) has no rows in the resample, so its coefficient must be 0"
                    }
                    if let steps = data.spec.debias.newtonSteps {
                        // A fixed number of Newton steps has no optimality condition: recompute it.
                        guard case let .coefficients(lasso) = fit, let expected = try? debiasedEstimate(cells: cells, start: lasso, present: present),
                            zip(b, expected).allSatisfy({ abs($0 - $1) <= 1e-9 * max(1, abs($1)) })
                        else {
                            return "\(what): not \(steps) Newton step(s) from the resample's lasso fit"
                        }
                    } else if data.debiasMethod == .firth {
                        // Firth's estimate: one more scoring step from it would move no coefficient.
                        let reduced = present.reduce(b)
                        guard let step = try? Debias(design: present.design).firthScore(cells: present.cells, beta: reduced).step,
                            zip(reduced, step).allSatisfy({ abs($1) <= 1e-6 * max(1, abs($0)) })
                        else {
                            return "\(what): not Firth's bias-reduced estimate on the resample (modified score not zero)"
                        }
                    } else if let p = check(d, outcome: o, counts: counts, alpha: 0, what: what) {
                        // Converged: the unpenalized maximum-likelihood fit, certified like a lasso fit at alpha 0.
                        return p
                    }
                }
            }
            return nil
        case let (.jackknife(o, start, _), .jackknife(fits)):
            guard let input else { return "no phase-2 input" }
            let cells = jackknifeCells(outcome: o)
            guard start + fits.count <= cells.count, start + fits.count == min(start + 256, cells.count) else {
                return "no jackknife task \(key) in this run (\(cells.count) cells)"
            }
            let n = Double(data.rowCount - 1)
            for (i, fit) in fits.enumerated() {
                guard case .coefficients = fit else { continue }
                // The delete-one counts: one row of the (pattern, outcome) cell removed.
                let (pattern, y, _) = cells[start + i]
                var counts = data.cellCount
                guard let c = counts.indices.first(where: { data.cellPattern[$0] == pattern && data.cellOutcomes[$0][o] == y && counts[$0] > 0 })
                else {
                    return "jackknife cell \(start + i) has no rows"
                }
                counts[c] -= 1
                if let p = check(
                    fit, outcome: o, counts: counts, alpha: data.scaledAlpha(input.alphas[o], weight: n),
                    what: "jackknife o\(o) cell \(start + i)")
                {
                    return p
                }
            }
            return nil
        default:
            return "the result's kind does not match the task"
        }
    }
}
