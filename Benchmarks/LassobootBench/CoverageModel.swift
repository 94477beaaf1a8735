import Analysis
import Foundation
import Lasso
import Resampling

/// `standard`: the 8 features below, drawn independently. `toeplitz`: p features from a latent
/// Gaussian with Toeplitz(rho) correlation (an AR(1) chain, corr rho^|i-j|); odd-numbered features
/// are binary (the latent thresholded at a prevalence from 0.5 down to 0.05), the rest continuous;
/// classes interleaved large, zero, small, ... with max(2, p/6) large (+1, -1, 0.8, ...),
/// max(2, p/6) small (0.3, -0.2, 0.1, 0.25, ...) and the rest (at least half) exactly zero.
struct CoverageModel {
    struct Feature {
        let name: String
        /// Bernoulli(p) when binary, else N(0, 1) rounded to 2 decimals.
        let binaryP: Double?
        let beta: Double
        let group: String
    }

    /// The true intercept; `calibrate(eventRate:)` sets it for a wanted share of ones.
    var intercept = -0.5
    /// Latent correlation of neighbouring features (`toeplitz` design; `nil`: independent features).
    var rho: Double?
    /// The real rows of a job's encoded data (`ctdc` design: a plasmode): each repetition draws
    /// `rows` of them without replacement (all of them, in order, when `rows` is at least their
    /// number) and an outcome from the known coefficients.
    var plasmode: Plasmode?

    struct Plasmode {
        /// Row-major encoded feature values.
        let rows: [[Double]]
        let source: String
    }
    var features: [Feature] = [
        .init(name: "x1_bin", binaryP: 0.4, beta: 1.0, group: "large"),
        .init(name: "x2_bin", binaryP: 0.3, beta: -1.0, group: "large"),
        .init(name: "x3_cont", binaryP: nil, beta: 0.8, group: "large"),
        .init(name: "x4_bin", binaryP: 0.5, beta: 0.3, group: "small"),
        .init(name: "x5_cont", binaryP: nil, beta: -0.2, group: "small"),
        .init(name: "z6_bin", binaryP: 0.3, beta: 0, group: "zero"),
        .init(name: "z7_cont", binaryP: nil, beta: 0, group: "zero"),
        .init(name: "z8_bin", binaryP: 0.2, beta: 0, group: "zero"),
    ]

    /// The standard 8-feature model.
    init() {}

    /// The Toeplitz design with `p` features and latent correlation `rho`.
    init(toeplitz p: Int, rho: Double, nonzeros: Int? = nil) {
        self.rho = rho
        // With `nonzeros` k (sparse high-dimensional cells): ceil(k/2) large and floor(k/2) small, the rest zero.
        let nLarge = nonzeros.map { ($0 + 1) / 2 } ?? max(2, p / 6), nSmall = nonzeros.map { $0 / 2 } ?? max(2, p / 6)
        let large = [1.0, -1.0, 0.8, -0.8], small = [0.3, -0.2, 0.1, 0.25, -0.15]
        let prevalences = [0.5, 0.3, 0.15, 0.4, 0.05, 0.2, 0.1]
        var classes: [String] = []
        for i in 0..<max(nLarge, nSmall) {
            if i < nLarge { classes.append("large") }
            classes.append("zero")
            if i < nSmall { classes.append("small") }
        }
        while classes.count < p { classes.append("zero") }
        classes = Array(classes.prefix(p))
        var li = 0, si = 0, bi = 0
        features = classes.enumerated().map { j, c in
            let beta: Double
            switch c {
            case "large": beta = large[li % large.count]; li += 1
            case "small": beta = small[si % small.count]; si += 1
            default: beta = 0
            }
            let binary = j % 2 == 1
            var prevalence: Double?
            if binary { prevalence = prevalences[bi % prevalences.count]; bi += 1 }
            let name = "\(c == "zero" ? "z" : "x")\(j + 1)_\(binary ? "bin" : "cont")"
            return Feature(name: name, binaryP: prevalence, beta: beta, group: c)
        }
    }

    /// The plasmode of a job (issue 10: the real X, y drawn from a known beta): the job's data,
    /// encoded as the job encodes it, and as truth the job's own lasso fit of `outcome` at its
    /// cross-validated alpha (so some coefficients are exactly zero). Classes: zero, large
    /// (|beta| >= 0.5), small (the rest).
    init(plasmodeJob path: String, outcome: String) throws {
        let spec = try RunSpec.load(path: path)
        let data = try RunData.load(spec: spec)
        guard let o = data.encoded.outcomeNames.firstIndex(of: outcome) else {
            throw UsageError(
                description: "--outcome: the job has no outcome '\(outcome)' (it has \(data.encoded.outcomeNames.joined(separator: ", ")))")
        }
        let executor = TaskExecutor(data: data)
        let results = try LocalRunner(executor: executor, threads: ProcessInfo.processInfo.activeProcessorCount).run()
        let report = try Aggregation.report(data: data, executor: executor, results: results, software: "coverage")
        let fitted = report.outcomes[o].features
        intercept = fitted[0].coef
        features = zip(data.encoded.featureNames, fitted.dropFirst()).map { name, f in
            let clean = String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            let group = f.coef == 0 ? "zero" : (abs(f.coef) >= 0.5 ? "large" : "small")
            return Feature(name: clean, binaryP: nil, beta: f.coef, group: group)
        }
        let n = data.encoded.rowCount
        plasmode = Plasmode(
            rows: (0..<n).map { i in data.encoded.columns.map { $0[i] } },
            source: "\(spec.data.csv) encoded by \(path), \(n) rows; truth: the job's lasso fit of \(outcome) at alpha \(report.outcomes[o].alpha)")
    }

    /// Names and true values, intercept first (the order of a report's features).
    var names: [String] { ["const"] + features.map(\.name) }
    var truth: [Double] { [intercept] + features.map(\.beta) }
    var groups: [String] { ["intercept"] + features.map(\.group) }

    /// One data set as CSV bytes (header `y,x1_bin,...`), from stream (seed, .simulation, rep).
    func csv(rows n: Int, seed: UInt64, repetition: Int) -> Data {
        var text = (["y"] + features.map(\.name)).joined(separator: ",") + "\n"
        text.reserveCapacity(n * 40)
        draw(rows: n, seed: seed, repetition: repetition) { fields, y in
            text += (y ? "1" : "0") + "," + fields.joined(separator: ",") + "\n"
        }
        return Data(text.utf8)
    }

    /// Sets the intercept so that the expected share of ones is `eventRate` (the issue's 0.4 and
    /// 0.1 cells): bisection on the mean probability over 50,000 rows drawn from a stream no
    /// repetition uses.
    mutating func calibrate(eventRate: Double) {
        var predictors: [Double] = []
        predictors.reserveCapacity(50_000)
        var unshifted = self
        unshifted.intercept = 0
        unshifted.draw(rows: 50_000, seed: 0x5EED_CA1B, repetition: 0) { _, _ in
        } linearPredictor: {
            predictors.append($0)
        }
        var low = -30.0, high = 30.0
        for _ in 0..<100 {
            let mid = (low + high) / 2
            let rate = predictors.reduce(0) { $0 + 1 / (1 + Foundation.exp(-(mid + $1))) } / Double(predictors.count)
            if rate < eventRate { low = mid } else { high = mid }
        }
        intercept = ((low + high) / 2 * 1000).rounded() / 1000
    }

    /// Draws `n` rows from stream (seed, .simulation, rep): each row's cells as the CSV holds
    /// them and its outcome; `linearPredictor` sees each row's eta (intercept included).
    func draw(
        rows n: Int, seed: UInt64, repetition: Int, _ row: ([String], Bool) -> Void, linearPredictor: (Double) -> Void = { _ in }
    ) {
        var stream = RandomStream(seed: seed, purpose: .simulation, index: UInt64(repetition))
        if let plasmode {
            let all = plasmode.rows.count
            var order = Array(0..<all)
            let take = min(n, all)
            if take < all {
                // A partial Fisher-Yates shuffle: `take` distinct rows, in the order drawn.
                for k in 0..<take { order.swapAt(k, k + stream.nextIndex(below: all - k)) }
            }
            for i in order.prefix(take) {
                let x = plasmode.rows[i]
                var eta = intercept
                for (j, f) in features.enumerated() { eta += f.beta * x[j] }
                linearPredictor(eta)
                let y = stream.nextUniform() < 1 / (1 + Foundation.exp(-eta))
                row(x.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int64($0)) : "\($0)" }, y)
            }
            return
        }
        var spare: Double?
        func normal() -> Double {
            if let s = spare { spare = nil; return s }
            // Box-Muller on (0, 1] uniforms.
            let u1 = 1 - stream.nextUniform(), u2 = stream.nextUniform()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            spare = r * Foundation.sin(2 * Double.pi * u2)
            return r * Foundation.cos(2 * Double.pi * u2)
        }
        let thresholds = features.map { f in f.binaryP.map { Normal.quantile($0) } }
        for _ in 0..<n {
            var eta = intercept
            var fields: [String] = []
            var latent = 0.0
            for (j, f) in features.enumerated() {
                let s: String
                if let rho {
                    // AR(1) latent chain: corr(z_i, z_j) = rho^|i-j|.
                    latent = j == 0 ? normal() : rho * latent + (1 - rho * rho).squareRoot() * normal()
                    if let t = thresholds[j] {
                        s = latent < t ? "1" : "0"
                    } else {
                        s = String(format: "%.2f", latent)
                    }
                } else if let p = f.binaryP {
                    s = stream.nextUniform() < p ? "1" : "0"
                } else {
                    s = String(format: "%.2f", normal())
                }
                // The truth uses exactly the value the CSV holds.
                eta += f.beta * Double(s)!
                fields.append(s)
            }
            linearPredictor(eta)
            row(fields, stream.nextUniform() < 1 / (1 + Foundation.exp(-eta)))
        }
    }
}
