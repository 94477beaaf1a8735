import RealModule

// Firth's bias-reduced logistic regression (Firth 1993) on the compressed cells: the debiased
// estimate of `debiased.method` `firth`, R brglm2's `AS_mean` for the logit link.

extension Debias {
    /// Firth's bias-reduced estimate: the root of the modified score
    /// U*(b) = sum_k x_k [e_k - m_k pi_k + h_k (1/2 - pi_k)], h_k the summed leverage of cell k's
    /// rows, which maximizes l(b) + 1/2 log det H(b).
    ///
    /// Each step solves with the Hessian of the pseudo-data form of U* (cell k with e_k + h_k/2
    /// events in m_k + h_k trials, h held fixed), H + sum_k h_k pi_k (1 - pi_k) x_k x_k': it keeps
    /// the leverage term's dependence on pi, which plain Fisher scoring (H alone) drops, so rare
    /// features with high-leverage rows converge in a few steps instead of many. Steps are capped at
    /// `maxStep` per coefficient, and a step larger than 1/2 is halved while the penalized
    /// log-likelihood falls (as R's logistf does; small steps near the root need no check). Stops
    /// when the largest step relative to its coefficient, or the remaining distance predicted from
    /// the ratio of the last two steps, is below `tolerance`. Standard errors are H^{-1/2} at the estimate.
    func firth(cells: BinomialCells, start: [Double], errors: Bool, tolerance: Double) throws -> DebiasedEstimate {
        let p = size, limit = 100, maxStep = 5.0
        var beta = start
        var point = try firthPoint(cells: cells, beta: beta, withMeat: errors)
        var steps = 0, previous = Double.infinity
        while true {
            var delta = LinearAlgebra.choleskySolve(point.stepFactor, point.score, size: p)
            let biggest = delta.reduce(0) { max($0, abs($1)) }
            if biggest > maxStep { delta = delta.map { $0 * maxStep / biggest } }
            let guarded = biggest > 0.5
            // The current point's penalized log-likelihood, once per step (only large steps need it).
            let current = guarded ? penalizedLogLikelihood(cells: cells, point) : 0
            let floor = current - 1e-12 * max(1, abs(current))
            var trial = beta, largest = 0.0
            var next: FirthPoint?
            for _ in 0..<30 {
                largest = 0
                for j in 0..<p {
                    trial[j] = beta[j] + delta[j]
                    largest = max(largest, abs(delta[j]) / max(1, abs(trial[j])))
                }
                guard trial.allSatisfy({ $0.isFinite && abs($0) < Self.divergenceLimit }) else {
                    throw DebiasFailure.notConverged(steps: steps + 1)
                }
                if let t = try? firthPoint(cells: cells, beta: trial, withMeat: errors),
                    !guarded || penalizedLogLikelihood(cells: cells, t) >= floor
                {
                    next = t
                    break
                }
                delta = delta.map { $0 / 2 }
            }
            guard let next else { throw DebiasFailure.notConverged(steps: steps + 1) }
            beta = trial
            point = next
            steps += 1
            // Linear convergence at rate r leaves about r / (1 - r) times the last step to go.
            let rate = previous.isFinite ? largest / previous : 1
            if largest <= tolerance || (rate < 0.5 && rate / (1 - rate) * largest <= tolerance) { break }
            previous = largest
            if steps >= limit { throw DebiasFailure.notConverged(steps: steps) }
        }
        return try finish(beta: beta, at: point.derivatives, factor: point.factor, steps: steps, errors: errors)
    }

    /// What one Firth step needs at a point.
    struct FirthPoint {
        var derivatives: (g: [Double], h: [Double], m: [Double], pi: [Double])
        /// Cholesky factor of H (log det, standard errors).
        var factor: [Double]
        /// Cholesky factor of the pseudo-data Hessian H + sum_k h_k pi_k (1 - pi_k) x_k x_k' (the step).
        var stepFactor: [Double]
        /// The modified score.
        var score: [Double]
    }

    func firthPoint(cells: BinomialCells, beta: [Double], withMeat: Bool) throws -> FirthPoint {
        let p = size
        let d = derivatives(cells: cells, beta: beta, withMeat: withMeat)
        guard let l = LinearAlgebra.cholesky(d.h, size: p) else { throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity) }
        let (score, extra) = modifiedScore(cells: cells, d: d, inverse: LinearAlgebra.choleskyInverse(l, size: p))
        var augmented = d.h
        for i in 0..<(p * p) { augmented[i] += extra[i] }
        guard let s = LinearAlgebra.cholesky(augmented, size: p) else { throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity) }
        return FirthPoint(derivatives: d, factor: l, stepFactor: s, score: score)
    }

    /// l(beta) + 1/2 log det H(beta) at a point (only large steps need it: logs per cell).
    func penalizedLogLikelihood(cells: BinomialCells, _ point: FirthPoint) -> Double {
        let p = size
        var value = 0.0
        for i in 0..<p { value += Double.log(point.factor[i * p + i]) }  // 1/2 log det H
        for k in 0..<design.patternCount where cells.trials[k] > 0 {
            let q = point.derivatives.pi[k], e = cells.successes[k], f = cells.trials[k] - e
            if e > 0 { value += e * Double.log(q) }
            if f > 0 { value += f * Double.log(1 - q) }
        }
        return value
    }

    /// The modified score g + sum_k h_k (1/2 - pi_k) x_k, with h_k = m_k pi_k (1 - pi_k) x_k' H^{-1} x_k
    /// the summed leverage of cell k's rows, and sum_k h_k pi_k (1 - pi_k) x_k x_k' (full, row-major;
    /// intercept first).
    func modifiedScore(
        cells: BinomialCells, d: (g: [Double], h: [Double], m: [Double], pi: [Double]),
        inverse: [Double]
    ) -> (score: [Double], extra: [Double]) {
        let p = size
        var score = d.g
        var extra = [Double](repeating: 0, count: p * p)
        design.sparseStart.withUnsafeBufferPointer { start in
            design.sparseFeature.withUnsafeBufferPointer { feature in
                design.sparseValue.withUnsafeBufferPointer { value in
                    inverse.withUnsafeBufferPointer { inv in
                        extra.withUnsafeMutableBufferPointer { extra in
                            let a0 = extra.baseAddress!
                            for k in 0..<design.patternCount where cells.trials[k] > 0 {
                                let lo = Int(start[k]), hi = Int(start[k + 1])
                                // x' H^-1 x over the pattern's nonzeros and the intercept.
                                var quad = inv[0]
                                for i in lo..<hi {
                                    let a = Int(feature[i]) + 1, xa = value[i]
                                    var t = 2 * inv[a]  // (0, a) and (a, 0)
                                    for l in lo..<hi { t += inv[a * p + Int(feature[l]) + 1] * value[l] }
                                    quad += xa * t
                                }
                                let q = d.pi[k], w = q * (1 - q)
                                let h = cells.trials[k] * w * quad
                                let c = h * (0.5 - q), v = h * w
                                score[0] += c
                                for i in lo..<hi { score[Int(feature[i]) + 1] += c * value[i] }
                                Self.addOuter(a0, weight: v, lo: lo, hi: hi, feature: feature, value: value, size: p)
                            }
                        }
                    }
                }
            }
        }
        Self.mirror(&extra, size: p)
        return (score, extra)
    }

    /// Firth's modified score at `beta` (intercept first) and the step one more iteration would
    /// take from it: both zero at the bias-reduced estimate, so a replicate can be certified
    /// without refitting it.
    public func firthScore(cells: BinomialCells, beta: [Double]) throws -> (score: [Double], step: [Double]) {
        let point = try firthPoint(cells: cells, beta: beta, withMeat: false)
        return (point.score, LinearAlgebra.choleskySolve(point.stepFactor, point.score, size: size))
    }
}
