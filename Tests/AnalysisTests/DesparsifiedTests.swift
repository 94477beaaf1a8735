import Analysis
import CoordinatorAPI
import Foundation
import Lasso
import Plan
import Testing

/// A p > n job: `rows` rows of `features` AR(1)-correlated Gaussian features, 3 true signals.
private func wideJob(rows n: Int, features p: Int, extra: [String: Any] = [:]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-nodewise-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var state: UInt64 = 42
    func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    func normal() -> Double { (-2 * Foundation.log(max(uniform(), 1e-300))).squareRoot() * Foundation.cos(2 * .pi * uniform()) }
    var csv = "y," + (0..<p).map { "x\($0)" }.joined(separator: ",") + "\n"
    for _ in 0..<n {
        var x = [Double](repeating: 0, count: p)
        for j in 0..<p { x[j] = (j > 0 ? 0.5 * x[j - 1] : 0) + 0.866 * normal() }
        let eta = -0.2 + 1.5 * x[0] - 1.0 * x[1] + 0.8 * x[4]
        let y = uniform() < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
        csv += "\(y)," + x.map { String(format: "%.5f", $0) }.joined(separator: ",") + "\n"
    }
    try csv.write(to: directory.appendingPathComponent("wide.csv"), atomically: true, encoding: .utf8)
    let spec: [String: Any] = [
        "name": "wide", "data": ["csv": "wide.csv"], "outcomes": ["y"], "features": (0..<p).map { ["name": "x\($0)"] },
        "alphas": ["count": 12, "minRatio": 0.1], "cv": ["folds": 4], "bootstrap": ["resamples": 20, "batch": 10, "methods": ["percentile"]],
        "seed": 5,
    ]
    return try writeJob(spec, extra: extra, named: "wide.json", in: directory)
}

@Suite("Desparsified (nodewise) lasso for p >= n: distributed tasks, pooled CV, certificates")
struct DesparsifiedTests {
    @Test("p > n: auto picks nodewise; every feature gets a finite estimate and Wald interval; the same bytes on 1 and 2 threads")
    func wideReport() throws {
        let path = try wideJob(rows: 60, features: 90)
        let one = try runJob(path, threads: 1), two = try runJob(path, threads: 2)
        #expect(one.json == two.json)
        let outcome = one.report.outcomes[0]
        let debiasing = try #require(outcome.debiasing)
        #expect(debiasing.method == "nodewise" && debiasing.flags.isEmpty && debiasing.resamples == 0)
        let lambda = try #require(debiasing.nodewiseLambda)
        #expect(lambda > 0 && lambda < 1)
        let interceptLambda = try #require(debiasing.interceptNodewiseLambda)
        #expect(interceptLambda > 0 && interceptLambda < 1)
        for f in outcome.features {
            let d = try #require(f.debiased, "\(f.name)")
            let b = try #require(d.estimate, "\(f.name)")
            let se = try #require(d.se, "\(f.name)")
            let wald = try #require(d.ci["wald"], "\(f.name)")
            let low = try #require(wald.low), high = try #require(wald.high)
            #expect(se > 0 && (d.sandwichSE ?? 0) > 0 && d.flags.isEmpty, "\(f.name)")
            #expect(wald.flags == (f.name == "const" ? ["interceptUnderCovers"] : []), "\(f.name): \(wald.flags)")
            #expect(abs((low + high) / 2 - b) <= 1e-12 * max(1, abs(b)))
            #expect(d.ci.keys.sorted() == ["wald"], "nodewise gives Wald intervals only")
        }
        // The strongest signal (beta 1.5) is found with the right sign on this seeded data set (at 45 x 70 it is not).
        #expect((outcome.features[1].debiased?.ci["wald"]?.low ?? 0) > 0)
    }

    @Test("nodewise results: validated, certified by recomputation (a moved number is refused), and JSON round trip")
    func certificate() throws {
        let path = try wideJob(rows: 50, features: 70)
        let executor = TaskExecutor(data: try RunData.load(spec: try RunSpec.load(path: path)))
        let input = PhaseTwoInput(alphas: [executor.data.grids[0][4]])
        let keys = executor.phaseTwoKeys().filter {
            if case .nodewise = $0 { return true }; return false
        }
        #expect(
            keys == [
                .nodewise(outcome: 0, start: 0, end: 16), .nodewise(outcome: 0, start: 16, end: 32), .nodewise(outcome: 0, start: 32, end: 48),
                .nodewise(outcome: 0, start: 48, end: 64), .nodewise(outcome: 0, start: 64, end: 71),
            ])
        let key = keys[1]
        let honest = executor.run(key, input: input)
        #expect(executor.keyProblem(key) == nil && executor.keyProblem(.nodewise(outcome: 0, start: 8, end: 24)) != nil)
        #expect(executor.validate(honest, key: key) == nil)
        #expect(executor.certify(honest, key: key, input: input) == nil)
        guard case let .nodewise(lambdas, features) = honest else { Issue.record("not a nodewise result"); return }
        #expect(lambdas.count == 20 && features.count == 16 && features.allSatisfy { $0.count == 100 })
        var moved = features
        moved[0][7] *= 1.001
        #expect(executor.certify(.nodewise(lambdas: lambdas, features: moved), key: key, input: input) != nil)
        // The last task carries the intercept's row (70), certified too.
        let last = executor.run(keys[4], input: input)
        #expect(executor.certify(last, key: keys[4], input: input) == nil)
        guard case let .nodewise(_, lastRows) = last, lastRows.count == 7 else { Issue.record("the last nodewise task"); return }
        var movedIntercept = lastRows
        movedIntercept[6][7] *= 1.001
        #expect(executor.certify(.nodewise(lambdas: lambdas, features: movedIntercept), key: keys[4], input: input) != nil)
        #expect(executor.validate(.nodewise(lambdas: lambdas, features: Array(features.dropLast())), key: key) != nil)
        #expect(TaskResult.fastDecode(try honest.canonicalJSON()) == honest)
        // Bootstrap tasks of a nodewise run carry no Newton-step replicates.
        guard case let .bootstrap(_, _, debiased) = executor.run(.bootstrap(start: 0, end: 10), input: input) else {
            Issue.record("bootstrap"); return
        }
        #expect(debiased == nil)
    }

    @Test("n > p with method nodewise and lambda 0: the estimates and SEs are one Newton step's (newtonSteps 1)")
    func lambdaZeroIsOneStep() throws {
        let nodewise = try runJob(try wideJob(rows: 400, features: 8, extra: ["debiased": ["method": "nodewise", "nodewiseLambda": 0]]), threads: 2)
        let newton = try runJob(try wideJob(rows: 400, features: 8, extra: ["debiased": ["method": "newton", "newtonSteps": 1]]), threads: 2)
        let a = nodewise.report.outcomes[0], b = newton.report.outcomes[0]
        #expect(a.debiasing?.nodewiseLambda == 0)
        #expect(a.features[0].debiased?.ci["wald"]?.flags == [], "n > p: the intercept is not flagged")
        for (x, y) in zip(a.features.dropFirst(), b.features.dropFirst()) {
            let ex = try #require(x.debiased?.estimate), ey = try #require(y.debiased?.estimate)
            #expect(abs(ex - ey) <= 1e-7 * max(1, abs(ey)), "\(x.name): \(ex) vs \(ey)")
            #expect(abs(x.debiased!.se! - y.debiased!.se!) <= 1e-7 * y.debiased!.se!, "\(x.name) SE")
        }
    }

    @Test(
        "against an independent re-implementation of hdi's lasso.proj (numpy + scikit-learn's Lasso, skglm's lasso fit) at fixed nodewise lambdas",
        arguments: ["0.05", "0.2"])
    func againstReference(lambda: String) throws {
        struct Reference: Decodable {
            struct Intercept: Decodable { let estimate: Double, se: Double, sandwichSE: Double }
            struct Estimates: Decodable { let estimate: [Double], se: [Double], sandwichSE: [Double], intercept: Intercept }
            let alpha: Double, intercept: Double, coefficients: [Double]
            let lambdas: [String: Estimates]
        }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("desparsified_hdi.json")))
        let expected = try #require(reference.lambdas[lambda])
        let spec: [String: Any] = [
            "name": "hdi reference", "data": ["csv": fixtures.appendingPathComponent("desparsified_wide.csv").path], "outcomes": ["y"],
            "features": (0..<70).map { ["name": "x\($0)"] }, "penalty": ["scale": "sum", "standardize": false],
            "alphas": [reference.alpha], "cv": ["folds": 2], "bootstrap": ["resamples": 10, "methods": ["percentile"]],
            "debiased": ["method": "nodewise", "nodewiseLambda": Double(lambda)!], "seed": 1,
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-hdi-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: spec).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let outcome = try runJob(path.path, threads: 2).report.outcomes[0]
        // The lasso fits agree first (lassoboot's solver against skglm's).
        #expect(abs(outcome.features[0].coef - reference.intercept) <= 1e-6)
        var worst = 0.0
        let intercept = try #require(outcome.features[0].debiased)
        for (what, got, want) in [
            ("estimate", intercept.estimate, expected.intercept.estimate), ("se", intercept.se, expected.intercept.se),
            ("sandwichSE", intercept.sandwichSE, expected.intercept.sandwichSE),
        ] {
            let value = try #require(got, "intercept \(what)")
            worst = max(worst, abs(value - want) / max(1, abs(want)))
            #expect(abs(value - want) <= 1e-5 * max(1, abs(want)), "intercept \(what): \(value) vs reference \(want)")
        }
        for (j, f) in outcome.features.dropFirst().enumerated() {
            #expect(abs(f.coef - reference.coefficients[j]) <= 1e-6, "\(f.name) lasso")
            let d = try #require(f.debiased)
            for (what, got, want) in [
                ("estimate", d.estimate, expected.estimate[j]), ("se", d.se, expected.se[j]), ("sandwichSE", d.sandwichSE, expected.sandwichSE[j]),
            ] {
                let value = try #require(got, "\(f.name) \(what)")
                worst = max(worst, abs(value - want) / max(1, abs(want)))
                #expect(abs(value - want) <= 1e-5 * max(1, abs(want)), "\(f.name) \(what): \(value) vs reference \(want)")
            }
        }
        print("desparsified at nodewise lambda \(lambda): max relative difference to the reference \(worst)")
    }

    @Test(
        "nodewiseLambda znz (the default) against cv: the features move down the grid by Zhang & Zhang's rule (mean variance under 1.25x); the intercept takes its own pick either way"
    )
    func zhangZhang() throws {
        let cv = try runJob(try wideJob(rows: 60, features: 90, extra: ["debiased": ["nodewiseLambda": "cv"]]), threads: 2).report.outcomes[0]
        let znz = try runJob(try wideJob(rows: 60, features: 90), threads: 2).report.outcomes[0]
        let a = try #require(cv.debiasing?.nodewiseLambda), b = try #require(znz.debiasing?.nodewiseLambda)
        #expect(b < a, "on this data set the pick moves (\(b) vs \(a))")
        let intercept = try #require(cv.debiasing?.interceptNodewiseLambda)
        #expect(intercept < a, "the intercept's pick moves down from the CV lambda on this data set (\(intercept) vs \(a))")
        #expect(znz.debiasing?.interceptNodewiseLambda == intercept)
        #expect(cv.features[0].debiased == znz.features[0].debiased, "the intercept takes its own pick either way")
        var before = 0.0, after = 0.0
        for (x, y) in zip(cv.features.dropFirst(), znz.features.dropFirst()) {
            let s = try #require(x.debiased?.se), t = try #require(y.debiased?.se)
            before += s * s
            after += t * t
        }
        #expect(after > before && after < 1.25 * before, "mean variance factor \(after / before) of the CV one")
    }

    @Test("spec: method and nodewiseLambda are read and checked")
    func spec() throws {
        func parse(_ debiased: String) throws -> RunSpec {
            try RunSpec.parse(
                Data(#"{"name": "s", "data": {"csv": "x.csv"}, "outcomes": ["y"], "features": [{"name": "a"}], "debiased": \#(debiased)}"#.utf8),
                source: "s.json", baseDirectory: "/")
        }
        #expect(try parse(#"{"method": "nodewise", "nodewiseLambda": 0.2}"#).debias == DebiasSpec(method: .nodewise, nodewiseLambda: 0.2))
        #expect(try parse(#"{"nodewiseLambda": "cv"}"#).debias == DebiasSpec(nodewiseZnZ: false))
        #expect(try parse(#"{"nodewiseLambda": "znz"}"#).debias == DebiasSpec())
        #expect(throws: (any Error).self) { try parse(#"{"nodewiseLambda": "min"}"#) }
        #expect(throws: (any Error).self) { try parse(#"{"method": "hdi"}"#) }
        #expect(throws: (any Error).self) { try parse(#"{"nodewiseLambda": -1}"#) }
    }
}
