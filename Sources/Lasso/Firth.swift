import RealModule

// Firth's bias-reduced logistic regression (Firth 1993) on the compressed cells: the debiased
// estimate of `debiased.method` `firth`, R brglm2's `AS_mean` for the logit link.

extension Debias {
    /// Firth's bias-reduced estimate: Fisher scoring on the modified score, each step capped at
    /// `maxStep` per coefficient and halved while the penalized log-likelihood
    /// l(beta) + 1/2 log det H(beta) falls (as R's logistf does), until the largest step is below
    /// `tolerance` relative to its coefficient. Standard errors are H^{-1/2} at the estimate.
    func firth(cells: BinomialCells, start: [Double], errors: Bool, tolerance: Double) throws -> DebiasedEstimate {
        let p = size, limit = 100, maxStep = 5.0
        var beta = start
        var point = try firthPoint(cells: cells, beta: beta, withMeat: errors)
        var steps = 0
        while true {
            var delta = LinearAlgebra.choleskySolve(point.factor, point.score, size: p)
            let biggest = delta.reduce(0) { max($0, abs($1)) }
            if biggest > maxStep { delta = delta.map { $0 * maxStep / biggest } }
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
                   t.objective >= point.objective - 1e-12 * max(1, abs(point.objective)) || largest <= tolerance {
                    next = t
                    break
                }
                delta = delta.map { $0 / 2 }
            }
            guard let next else { throw DebiasFailure.notConverged(steps: steps + 1) }
            beta = trial
            point = next
            steps += 1
            if largest <= tolerance { break }
            if steps >= limit { throw DebiasFailure.notConverged(steps: steps) }
        }
        return try finish(beta: beta, at: point.derivatives, factor: point.factor, steps: steps, errors: errors)
    }

    /// What one Firth step needs at a point.
    struct FirthPoint {
        var derivatives: (g: [Double], h: [Double], m: [Double], pi: [Double])
        var factor: [Double]
        /// The modified score.
        var score: [Double]
        /// l(beta) + 1/2 log det H(beta).
        var objective: Double
    }

    func firthPoint(cells: BinomialCells, beta: [Double], withMeat: Bool) throws -> FirthPoint {
        let p = size
        let d = derivatives(cells: cells, beta: beta, withMeat: withMeat)
        guard let l = LinearAlgebra.cholesky(d.h, size: p) else { throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity) }
        var logDet = 0.0
        for i in 0..<p { logDet += 2 * Double.log(l[i * p + i]) }
        let score = modifiedScore(cells: cells, d: d, inverse: LinearAlgebra.choleskyInverse(l, size: p))
        var logLik = 0.0
        for k in 0..<design.patternCount where cells.trials[k] > 0 {
            let q = d.pi[k], e = cells.successes[k], f = cells.trials[k] - e
            if e > 0 { logLik += e * Double.log(q) }
            if f > 0 { logLik += f * Double.log(1 - q) }
        }
        return FirthPoint(derivatives: d, factor: l, score: score, objective: logLik + logDet / 2)
    }

    /// g + sum_k h_k (1/2 - pi_k) x_k, with h_k = m_k pi_k (1 - pi_k) x_k' H^{-1} x_k the summed
    /// leverage of cell k's rows (intercept first).
    func modifiedScore(cells: BinomialCells, d: (g: [Double], h: [Double], m: [Double], pi: [Double]), inverse: [Double]) -> [Double] {
        let p = size
        var score = d.g
        design.sparseStart.withUnsafeBufferPointer { start in
        design.sparseFeature.withUnsafeBufferPointer { feature in
        design.sparseValue.withUnsafeBufferPointer { value in
        inverse.withUnsafeBufferPointer { inv in
            for k in 0..<design.patternCount where cells.trials[k] > 0 {
                let lo = Int(start[k]), hi = Int(start[k + 1])
                // x' H^-1 x over the pattern's nonzeros and the intercept.
                var quad = inv[0]
                for i in lo..<hi {
                    let a = Int(feature[i]) + 1, xa = value[i]
                    var t = 2 * inv[a]   // (0, a) and (a, 0)
                    for l in lo..<hi { t += inv[a * p + Int(feature[l]) + 1] * value[l] }
                    quad += xa * t
                }
                let q = d.pi[k]
                let c = cells.trials[k] * q * (1 - q) * quad * (0.5 - q)
                score[0] += c
                for i in lo..<hi { score[Int(feature[i]) + 1] += c * value[i] }
            }
        }}}}
        return score
    }

    /// Firth's modified score at `beta` (intercept first): zero at the bias-reduced estimate, so
    /// a replicate can be certified without refitting it.
    public func firthScore(cells: BinomialCells, beta: [Double]) throws -> (score: [Double], step: [Double]) {
        let point = try firthPoint(cells: cells, beta: beta, withMeat: false)
        return (point.score, LinearAlgebra.choleskySolve(point.factor, point.score, size: size))
    }
}
