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
    /// Residuals `r_k = t_k * pi_k - s_k` per pattern at (intercept, coefficients), zero on
    /// patterns without weight and on the padding: `X' r` is the exact gradient of the loss.
    ///
    /// The linear predictor is accumulated a column at a time (columns are contiguous), and pi
    /// takes one libm exp per pattern: the coordinator runs this on every fit it receives and the
    /// working-set solver on every round, so it must cost far less than a fit.
    static func residuals(design: CompressedDesign, cells: BinomialCells, intercept: Double, coefficients: [Double]) -> [Double] {
        let n = design.stride, m = design.patternCount
        var r = [Double](repeating: intercept, count: n)
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeMutableBufferPointer { eta in
                if let c = design.sparseColumns {
                    for j in 0..<design.featureCount where coefficients[j] != 0 {
                        let b = coefficients[j]
                        c.addColumn(j, times: b, to: eta.baseAddress!)
                    }
                } else {
                    for j in 0..<design.featureCount where coefficients[j] != 0 {
                        let b = coefficients[j]
                        let column = xs.baseAddress! + j * n
                        for k in 0..<m { eta[k] += b * column[k] }
                    }
                }
                cells.trials.withUnsafeBufferPointer { t in
                    cells.successes.withUnsafeBufferPointer { s in
                        for k in 0..<m {
                            guard t[k] > 0 else { eta[k] = 0; continue }
                            let x = eta[k]
                            let e = Double.exp(-Swift.abs(x))
                            let pi = x >= 0 ? 1 / (1 + e) : e / (1 + e)
                            eta[k] = t[k] * pi - s[k]
                        }
                    }
                }
                for k in m..<n { eta[k] = 0 }
            }
        }
        return r
    }

    public static func kktViolation(
        design: CompressedDesign, cells: BinomialCells, alpha: Double,
        penalty: Penalty = Penalty(), coefficients: [Double]
    ) throws -> Double {
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
        let r = residuals(design: design, cells: cells, intercept: coefficients[0], coefficients: Array(coefficients.dropFirst()))
        func violation(_ g: Double, _ beta: Double, _ lam: Double) -> Double {
            if lam == 0 { return Swift.abs(g) }
            if beta == 0 { return max(0, Swift.abs(g) - lam) }
            return Swift.abs(g + (beta > 0 ? lam : -lam))
        }
        var worst = violation(r.reduce(0, +), coefficients[0], penalty.penalizeIntercept ? lambda : 0)
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeBufferPointer { rp in
                for j in 0..<p {
                    let g = design.sparseColumns?.dot(j, rp.baseAddress!) ?? Kernels.dot(rp.baseAddress!, xs.baseAddress! + j * n, n)
                    worst = max(worst, violation(g, coefficients[j + 1], lambda * factors[j]) / scales[j])
                }
            }
        }
        return worst.isFinite ? worst / W : .infinity
    }
}
