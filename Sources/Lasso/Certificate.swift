import RealModule

extension LogisticLasso {
    /// The largest KKT violation of `coefficients` (intercept first) as a solution of the
    /// problem (design, cells, alpha, penalty), on the mean scale the solver certifies (per
    /// standard deviation of the feature when the penalty standardizes).
    ///
    /// Lets a party that did not run the solver (the coordinator, receiving a worker's fit)
    /// check that the coefficients really solve the problem: with the lasso's optimality
    /// conditions, a small violation proves the fit, whoever computed it. Columns with no
    /// weight, or constant like the intercept, are the solver's pinned zeros: their gradient
    /// is zero at any optimum and they count like the others.
    ///
    /// - Throws: ``LassoError/noData`` without weight, ``LassoError/lengthMismatch(what:expected:found:)``
    ///   when the coefficients do not have one entry per feature plus the intercept.
    public static func kktViolation(design: CompressedDesign, cells: BinomialCells, alpha: Double,
                                    penalty: Penalty = Penalty(), coefficients: [Double]) throws -> Double {
        let p = design.featureCount
        guard coefficients.count == p + 1 else {
            throw LassoError.lengthMismatch(what: "coefficients", expected: p + 1, found: coefficients.count)
        }
        guard alpha.isFinite, alpha >= 0 else { throw LassoError.invalidAlpha(alpha) }
        let scales = featureScales(design: design, cells: cells, penalty: penalty)
        let factors = try validatedFactors(penalty.factors, design: design).enumerated().map { $0.element * scales[$0.offset] }
        let W = cells.totalWeight
        guard W > 0 else { throw LassoError.noData }
        let lambda = penalty.scale == .sum ? alpha : alpha * W
        let n = design.stride
        // Residuals r_k = t_k * pi_k - s_k per pattern.
        var r = [Double](repeating: 0, count: n)
        design.storage.withUnsafeBufferPointer { xs in
            for k in 0..<design.patternCount where cells.trials[k] > 0 {
                var eta = coefficients[0]
                for j in 0..<p where coefficients[j + 1] != 0 { eta += coefficients[j + 1] * xs[j * n + k] }
                let pi = eta >= 0 ? 1 / (1 + Double.exp(-eta)) : Double.exp(eta) / (1 + Double.exp(eta))
                r[k] = cells.trials[k] * pi - cells.successes[k]
            }
        }
        func violation(_ g: Double, _ beta: Double, _ lam: Double) -> Double {
            if lam == 0 { return Swift.abs(g) }
            if beta == 0 { return max(0, Swift.abs(g) - lam) }
            return Swift.abs(g + (beta > 0 ? lam : -lam))
        }
        var worst = violation(r.reduce(0, +), coefficients[0], penalty.penalizeIntercept ? lambda : 0)
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeBufferPointer { rp in
                for j in 0..<p {
                    let g = Kernels.dot(rp.baseAddress!, xs.baseAddress! + j * n, n)
                    worst = max(worst, violation(g, coefficients[j + 1], lambda * factors[j]) / scales[j])
                }
            }
        }
        return worst.isFinite ? worst / W : .infinity
    }
}
