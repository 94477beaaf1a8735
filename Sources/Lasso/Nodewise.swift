import RealModule

/// The desparsified (nodewise) lasso for logistic regression, the estimator of
/// `hdi::lasso.proj(family = "binomial")` (van de Geer, Buhlmann, Ritov & Dezeure 2014): honest
/// intervals where p >= n and the maximum-likelihood estimate does not exist.
///
/// At the lasso fit beta (probabilities pi_k, weights w_k = m_k pi_k (1 - pi_k)), each feature j
/// is regressed on the others by a weighted Gaussian lasso on standardized columns,
/// `min (1/2W) sum_k w_k (z_kj - z_k,-j gamma)^2 + lambda |gamma|_1` (z: columns centered and
/// scaled by their w-weighted mean and SD, so the intercept drops out). With the residual
/// direction a = e_j - gamma and u_k = sum_l a_l z_kl,
///
///     b_j = beta_j + sum_k u_k (e_k - m_k pi_k) / sum_k w_k u_k x_kj,
///     SE_j = sqrt(sum_k w_k u_k^2) / |sum_k w_k u_k x_kj|   (model; the sandwich uses
///            e_k (1 - pi_k)^2 + (m_k - e_k) pi_k^2 in place of w_k in the numerator).
///
/// At lambda = 0 with n > p this is exactly one Newton step from beta (u is x_j residualized on
/// the other columns and the intercept), which the tests use as a certificate. Every quantity is
/// a quadratic form in p x p moment matrices, so a feature costs O(p |gamma|) per lambda once
/// the moments (O(patterns q^2)) are made.
public struct Nodewise: Sendable {
    /// Weighted moments of the design's columns over the patterns: total weight, sum of w x and
    /// sum of w x x' (row-major p x p).
    public struct Moments: Sendable {
        public var weight: Double
        public var sum: [Double]
        public var cross: [Double]

        /// Moments of `design` with one weight per pattern (zero weights skip the pattern).
        public init(design: CompressedDesign, weights: [Double]) {
            let p = design.featureCount
            var sum = [Double](repeating: 0, count: p), cross = [Double](repeating: 0, count: p * p)
            var total = 0.0
            design.sparseStart.withUnsafeBufferPointer { start in
                design.sparseFeature.withUnsafeBufferPointer { feature in
                    design.sparseValue.withUnsafeBufferPointer { value in
                        cross.withUnsafeMutableBufferPointer { cross in
                            let c = cross.baseAddress!
                            for k in 0..<design.patternCount where weights[k] != 0 {
                                let w = weights[k]
                                total += w
                                let lo = Int(start[k]), hi = Int(start[k + 1])
                                for i in lo..<hi {
                                    let a = Int(feature[i]), wa = w * value[i]
                                    sum[a] += wa
                                    let row = c + a * p
                                    for l in i..<hi { row[Int(feature[l])] += wa * value[l] }
                                }
                            }
                        }
                    }
                }
            }
            // Features in a pattern are ascending: the upper triangle was filled; mirror it.
            for a in 0..<p { for b in (a + 1)..<max(a + 1, p) { cross[b * p + a] = cross[a * p + b] } }
            self.weight = total
            self.sum = sum
            self.cross = cross
        }

        init(weight: Double, sum: [Double], cross: [Double]) {
            self.weight = weight
            self.sum = sum
            self.cross = cross
        }

        /// These moments without the patterns of `other` (a subset of them).
        public func subtracting(_ other: Moments) -> Moments {
            Moments(
                weight: weight - other.weight, sum: zip(sum, other.sum).map { $0 - $1 },
                cross: zip(cross, other.cross).map { $0 - $1 })
        }
    }

    /// Columns standardized by weighted moments: means, SDs and the weighted correlation matrix
    /// (unit diagonal; rows and columns of a constant column are zero).
    public struct Standardized: Sendable {
        public let mean: [Double]
        public let sd: [Double]
        /// Row-major p x p.
        public let correlation: [Double]
        public var size: Int { mean.count }

        public init(_ m: Moments) {
            let p = m.sum.count, w = m.weight
            let mean = m.sum.map { w > 0 ? $0 / w : 0 }
            var sd = [Double](repeating: 0, count: p)
            for a in 0..<p {
                let v = w > 0 ? m.cross[a * p + a] / w - mean[a] * mean[a] : 0
                // Below this relative variance the column is constant up to rounding.
                sd[a] = v > 1e-13 * max(1, mean[a] * mean[a]) ? v.squareRoot() : 0
            }
            var r = [Double](repeating: 0, count: p * p)
            for a in 0..<p where sd[a] > 0 {
                for b in 0..<p where sd[b] > 0 {
                    r[a * p + b] = (m.cross[a * p + b] / w - mean[a] * mean[b]) / (sd[a] * sd[b])
                }
                r[a * p + a] = 1
            }
            self.mean = mean
            self.sd = sd
            self.correlation = r
        }

        /// `sum_k w_k z_k z_k'` over the patterns of `m` (another weighting or a held-out part),
        /// with z standardized by these means and SDs: the matrix of held-out errors and of the
        /// sandwich variance.
        public func quadratic(_ m: Moments) -> [Double] {
            let p = size
            var q = [Double](repeating: 0, count: p * p)
            for a in 0..<p where sd[a] > 0 {
                for b in 0..<p where sd[b] > 0 {
                    let c = m.cross[a * p + b] - m.sum[a] * mean[b] - mean[a] * m.sum[b] + m.weight * mean[a] * mean[b]
                    q[a * p + b] = c / (sd[a] * sd[b])
                }
            }
            return q
        }
    }

    /// The lasso regressions of column `j` on the other columns along `lambdas` (descending,
    /// warm-started): `min (1/2) a' R a + lambda |gamma|_1`, a = e_j - gamma, by cyclic coordinate
    /// descent in covariance mode (R the correlation matrix: no pass over the data). Returns the
    /// residual directions a, one per lambda (a_j = 1). Converged when no coordinate moves by more
    /// than `tolerance` in a full sweep; the KKT conditions then hold to about that.
    public static func path(
        correlation r: [Double], size p: Int, feature j: Int, lambdas: [Double],
        tolerance: Double = 1e-8, maxSweeps: Int = 10_000
    ) -> [[Double]] {
        covariancePath(
            gram: r, size: p, target: Array(r[(j * p)..<(j * p + p)]), skip: j, lambdas: lambdas, tolerance: tolerance, maxSweeps: maxSweeps
        )
        .map { gamma in
            var a = gamma.map { -$0 }
            a[j] = 1
            return a
        }
    }

    /// The intercept's nodewise regressions along `lambdas`: the constant column regressed on the
    /// features (no intercept), `min (1/2W) sum_k w_k (1 - x_k' gamma)^2 + lambda sum_l sd_l |gamma_l|`.
    /// In the standardized coefficients d_l = sd_l gamma_l this is
    /// `min (1/2)(1 - v'd)^2 + (1/2) d' R d + lambda |d|_1` with v_l = mean_l / sd_l, a lasso with
    /// Gram matrix R + v v' and target v, solved like ``path(correlation:size:feature:lambdas:tolerance:maxSweeps:)``.
    /// Returns d per lambda (0 for constant columns); ``FullData/interceptProjection(_:)`` turns it
    /// into the desparsified intercept.
    public static func interceptPath(_ s: Standardized, lambdas: [Double], tolerance: Double = 1e-8, maxSweeps: Int = 10_000) -> [[Double]] {
        let p = s.size
        let v = (0..<p).map { s.sd[$0] > 0 ? s.mean[$0] / s.sd[$0] : 0 }
        var gram = s.correlation
        for a in 0..<p where v[a] != 0 { for b in 0..<p { gram[a * p + b] += v[a] * v[b] } }
        return covariancePath(gram: gram, size: p, target: v, skip: nil, lambdas: lambdas, tolerance: tolerance, maxSweeps: maxSweeps)
    }

    /// `min (1/2) g' G g - t' g + lambda |g|_1` along `lambdas` (descending, warm-started) by cyclic
    /// coordinate descent on the covariance `gram` (row-major p x p), coordinate `skip` held at 0.
    /// Returns g per lambda.
    ///
    /// A full sweep visits every coordinate; sweeps over the coordinates that have been nonzero
    /// then run on their own k x k block of the Gram matrix until they settle, so those sweeps
    /// cost O(k^2), not O(k p): most of the work where p > n (Benchmarks/README.md).
    static func covariancePath(
        gram r: [Double], size p: Int, target: [Double], skip j: Int?, lambdas: [Double], tolerance: Double, maxSweeps: Int
    ) -> [[Double]] {
        var gamma = [Double](repeating: 0, count: p)
        // c = t - G gamma, exact on every coordinate after each full sweep.
        var c = target
        var out: [[Double]] = []
        out.reserveCapacity(lambdas.count)
        var isMember = [Bool](repeating: false, count: p)
        var members: [Int] = []
        // The active block: its Gram entries (k x k), c and gamma on it, and gamma where it started.
        var block: [Double] = [], blockC: [Double] = [], blockGamma: [Double] = []
        // Set where a coordinate joins the block: its Gram entries must be gathered again.
        var blockGrew = false
        r.withUnsafeBufferPointer { r in
            let gramBase = r.baseAddress!
            for lambda in lambdas {
                var sweeps = 0
                while sweeps < maxSweeps {
                    var moved = 0.0
                    c.withUnsafeMutableBufferPointer { c in
                        gamma.withUnsafeMutableBufferPointer { gamma in
                            for l in 0..<p where l != j {
                                guard let delta = Self.coordinateStep(l, diagonal: gramBase[l * p + l], c: c, gamma: gamma, lambda: lambda) else {
                                    continue
                                }
                                Self.subtract(delta, times: gramBase + l * p, from: c.baseAddress!, count: p)
                                if gamma[l] != 0 && !isMember[l] {
                                    isMember[l] = true
                                    members.append(l)
                                    blockGrew = true
                                }
                                moved = max(moved, abs(delta))
                            }
                        }
                    }
                    sweeps += 1
                    if moved <= tolerance { break }
                    // Sweep the block in ascending coordinate order until it settles.
                    // Gather the block's Gram entries when a coordinate joined it.
                    let k = members.count
                    if blockGrew {
                        blockGrew = false
                        members.sort()
                        block.removeAll(keepingCapacity: true)
                        for a in members { for b in members { block.append(gramBase[a * p + b]) } }
                    }
                    blockC = members.map { c[$0] }
                    blockGamma = members.map { gamma[$0] }
                    block.withUnsafeBufferPointer { g in
                        blockC.withUnsafeMutableBufferPointer { bc in
                            blockGamma.withUnsafeMutableBufferPointer { bg in
                                while sweeps < maxSweeps {
                                    var inner = 0.0
                                    for i in 0..<k {
                                        guard let delta = Self.coordinateStep(i, diagonal: g[i * k + i], c: bc, gamma: bg, lambda: lambda) else {
                                            continue
                                        }
                                        Self.subtract(delta, times: g.baseAddress! + i * k, from: bc.baseAddress!, count: k)
                                        inner = max(inner, abs(delta))
                                    }
                                    sweeps += 1
                                    if inner <= tolerance { break }
                                }
                            }
                        }
                    }
                    // Bring c up to date everywhere: c -= G[:, block] (gamma_block - its start).
                    c.withUnsafeMutableBufferPointer { c in
                        for (i, a) in members.enumerated() {
                            let delta = blockGamma[i] - gamma[a]
                            guard delta != 0 else { continue }
                            gamma[a] = blockGamma[i]
                            Self.subtract(delta, times: gramBase + a * p, from: c.baseAddress!, count: p)
                        }
                    }
                }
                out.append(gamma)
            }
        }
        return out
    }

    /// `c -= delta * row` over `count` entries: the update of c after a coordinate moved.
    @inline(__always)
    static func subtract(_ delta: Double, times row: UnsafePointer<Double>, from c: UnsafeMutablePointer<Double>, count: Int) {
        for m in 0..<count { c[m] -= delta * row[m] }
    }

    /// One soft-thresholded coordinate update of `gamma[l]` (c = t - G gamma before it); returns
    /// the change, nil when there is none. The caller updates c.
    @inline(__always)
    static func coordinateStep(
        _ l: Int, diagonal d: Double, c: UnsafeMutableBufferPointer<Double>, gamma: UnsafeMutableBufferPointer<Double>, lambda: Double
    ) -> Double? {
        guard d > 0 else { return nil }
        let rho = c[l] + d * gamma[l]
        let new = rho > lambda ? (rho - lambda) / d : (rho < -lambda ? (rho + lambda) / d : 0)
        let delta = new - gamma[l]
        guard delta != 0 else { return nil }
        gamma[l] = new
        return delta
    }

    /// The one-feature quantities of the desparsified estimate for residual direction `a`
    /// (standardized units) at the lasso fit: numerator `sum_k u_k r_k`, denominator
    /// `sum_k w_k u_k x_kj`, and the model and sandwich variances of the numerator.
    public struct Projection: Sendable, Equatable {
        public let numerator: Double
        public let denominator: Double
        public let variance: Double
        public let sandwichVariance: Double

        public init(numerator: Double, denominator: Double, variance: Double, sandwichVariance: Double) {
            self.numerator = numerator
            self.denominator = denominator
            self.variance = variance
            self.sandwichVariance = sandwichVariance
        }

        /// The desparsified coefficient's correction, model SE and sandwich SE (`nil` when the
        /// denominator vanishes: the feature is explained away by the others).
        public var estimate: (shift: Double, se: Double, sandwichSE: Double)? {
            guard denominator.isFinite, abs(denominator) > 0, variance >= 0 else { return nil }
            return (numerator / denominator, variance.squareRoot() / abs(denominator), max(sandwichVariance, 0).squareRoot() / abs(denominator))
        }
    }

    /// Everything a feature's projection needs from the full data at the lasso fit.
    public struct FullData: Sendable {
        /// Standardization and correlation under the weights w.
        public let standardized: Standardized
        /// Total weight W.
        public let weight: Double
        /// `sum_k z_k s_k z_k'` with the sandwich weights s_k (standardized by the w moments).
        public let sandwich: [Double]
        /// `sum_k r_k x_k` and `sum_k r_k`, r_k = e_k - m_k pi_k: the score.
        public let score: [Double]
        public let scoreTotal: Double
        /// The moments under w.
        public let moments: Moments
        /// pi_k (1 - pi_k) per pattern: w_k per row, to weigh a subset of the rows (CV folds).
        public let unitWeight: [Double]
        /// `sum_k s_k` and `sum_k s_k z_k` with the sandwich weights s_k: the intercept's sandwich.
        public let sandwichWeight: Double
        public let sandwichSum: [Double]

        /// Weights, moments and score at the lasso fit `beta` (intercept first) on `cells`.
        public init(design: CompressedDesign, cells: BinomialCells, beta: [Double]) {
            let n = design.patternCount, p = design.featureCount
            let start = design.sparseStart, (feature, value) = design.sparseEntries.get()
            var w = [Double](repeating: 0, count: n), s = [Double](repeating: 0, count: n), r = [Double](repeating: 0, count: n)
            var unit = [Double](repeating: 0, count: n)
            for k in 0..<n {
                var eta = beta[0]
                for i in Int(start[k])..<Int(start[k + 1]) { eta += beta[Int(feature[i]) + 1] * value[i] }
                let q = Kernels.sigmoid(eta), m = cells.trials[k], e = cells.successes[k]
                unit[k] = q * (1 - q)
                guard m > 0 else { continue }
                w[k] = m * q * (1 - q)
                s[k] = e * (1 - q) * (1 - q) + (m - e) * q * q
                r[k] = e - m * q
            }
            let moments = Moments(design: design, weights: w)
            let standardized = Standardized(moments)
            var score = [Double](repeating: 0, count: p)
            for k in 0..<n where r[k] != 0 {
                for i in Int(start[k])..<Int(start[k + 1]) { score[Int(feature[i])] += r[k] * value[i] }
            }
            self.standardized = standardized
            self.moments = moments
            self.unitWeight = unit
            self.weight = moments.weight
            let sandwichMoments = Moments(design: design, weights: s)
            self.sandwich = standardized.quadratic(sandwichMoments)
            self.sandwichWeight = sandwichMoments.weight
            self.sandwichSum = (0..<p).map {
                standardized.sd[$0] > 0 ? (sandwichMoments.sum[$0] - standardized.mean[$0] * sandwichMoments.weight) / standardized.sd[$0] : 0
            }
            self.score = score
            self.scoreTotal = r.reduce(0, +)
        }

        /// The projection of feature `j` along residual direction `a`.
        public func projection(feature j: Int, direction a: [Double]) -> Projection {
            let p = standardized.size, mean = standardized.mean, sd = standardized.sd, rho = standardized.correlation
            var numerator = 0.0, ra = 0.0
            let support = (0..<p).filter { a[$0] != 0 && sd[$0] > 0 }
            for l in support {
                numerator += a[l] * (score[l] - mean[l] * scoreTotal) / sd[l]
                ra += rho[j * p + l] * a[l]
            }
            // sum_k w u x_j = sd_j * W * (R a)_j, as u is centered under w.
            return Projection(
                numerator: numerator, denominator: sd[j] * weight * ra,
                variance: weight * Nodewise.quadraticForm(a, rho, support: support),
                sandwichVariance: Nodewise.quadraticForm(a, sandwich, support: support))
        }

        /// The desparsified intercept's projection for the standardized coefficients `d` of its
        /// nodewise regression (``Nodewise/interceptPath(_:lambdas:tolerance:maxSweeps:)``): the
        /// residual u_k = t - z_k' d with t = 1 - v'd, numerator `sum_k u_k r_k`, denominator
        /// `sum_k w_k u_k` (= t W, z being centered under w), model variance
        /// `W (t^2 + d' R d)` and sandwich variance `sum_k s_k u_k^2`.
        public func interceptProjection(_ d: [Double]) -> Projection {
            let p = standardized.size, mean = standardized.mean, sd = standardized.sd
            let support = (0..<p).filter { d[$0] != 0 && sd[$0] > 0 }
            var t = 1.0, numerator = 0.0, cross = 0.0
            for l in support {
                t -= d[l] * mean[l] / sd[l]
                numerator -= d[l] * (score[l] - mean[l] * scoreTotal) / sd[l]
                cross += d[l] * sandwichSum[l]
            }
            numerator += t * scoreTotal
            return Projection(
                numerator: numerator, denominator: t * weight,
                variance: weight * (t * t + Nodewise.quadraticForm(d, standardized.correlation, support: support)),
                sandwichVariance: t * t * sandwichWeight - 2 * t * cross + Nodewise.quadraticForm(d, sandwich, support: support))
        }
    }

    /// The common lambda grid of the nodewise regressions: `count` values geometric from the
    /// largest absolute correlation between two columns (every regression is zero there) down
    /// to `minRatio` of it.
    public static func lambdaGrid(_ s: Standardized, count: Int = 20, minRatio: Double = 0.05) -> [Double] {
        let p = s.size
        var top = 0.0
        for a in 0..<p { for b in 0..<p where a != b { top = max(top, abs(s.correlation[a * p + b])) } }
        guard top > 0 else { return [0] }
        return LogisticLasso.geometricGrid(max: top, count: count, minRatio: minRatio)
    }

    /// Zhang & Zhang's lambda pick (2014; hdi's `improve.lambda.pick`, `lasso.proj(do.ZnZ = TRUE)`):
    /// the smallest lambda of the grid (the highest index, the grid descending) whose variance
    /// factor stays below 1.25 times the one at the CV choice `best`. A smaller lambda leaves
    /// less of the lasso's bias in the desparsified estimate (the remainder is of order lambda
    /// times the lasso's error) at the price of a wider interval, here at most 12% wider. hdi
    /// refines the pick between grid values; this stays on the grid. Non-finite factors are
    /// skipped; `best` when none qualifies.
    public static func zhangZhangPick(_ factor: [Double], from best: Int) -> Int {
        guard factor.indices.contains(best), factor[best].isFinite else { return best }
        var pick = best
        for i in factor.indices where i > pick && factor[i].isFinite && factor[i] < 1.25 * factor[best] { pick = i }
        return pick
    }

    /// Held-out error of residual direction `a` (standardized by the training columns) on the
    /// held-out quadratic matrix `q` (``Standardized/quadratic(_:)``): `a' q a`.
    public static func heldOutError(direction a: [Double], quadratic q: [Double]) -> Double {
        quadraticForm(a, q, support: a.indices.filter { a[$0] != 0 })
    }

    /// `a' m a` (m row-major) over the indices of `support`, where a is nonzero.
    static func quadraticForm(_ a: [Double], _ m: [Double], support: [Int]) -> Double {
        let p = a.count
        var sum = 0.0
        for l in support { for k in support { sum += a[l] * m[l * p + k] * a[k] } }
        return sum
    }
}
