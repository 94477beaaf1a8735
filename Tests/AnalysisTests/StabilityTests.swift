import Analysis
import Foundation
import Lasso
import Plan
import Testing

/// A temporary copy of the standard synthetic job with `stability` set to `block`.
private func stabilityJob(_ block: String, rows: Int = 400) throws -> TemporaryJob {
    try TemporaryJob(rows: rows) { csv in
        TemporaryJob.standardSpec(csv).replacingOccurrences(of: "\"seed\": 11", with: "\"seed\": 11, \"stability\": \(block)")
    }
}

/// 2,000 rows of 10 standard normal features times `scales`, y from beta = (1.2, -1, 0.8, 0, ...).
private struct ContinuousJob {
    let directory: URL
    var specPath: String { directory.appendingPathComponent("job.json").path }

    init(scales: [Double]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-stab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var state: UInt64 = 99
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        func normal() -> Double { (-2 * Foundation.log(max(uniform(), 1e-300))).squareRoot() * Foundation.cos(2 * Double.pi * uniform()) }
        let beta = [1.2, -1.0, 0.8, 0, 0, 0, 0, 0, 0, 0]
        var csv = (0..<10).map { "x\($0)" }.joined(separator: ",") + ",y\n"
        for _ in 0..<2000 {
            let z = (0..<10).map { _ in normal() }
            let eta = -0.3 + zip(beta, z).map(*).reduce(0, +)
            let y = uniform() < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
            csv += z.enumerated().map { j, v in "\(v * scales[j])" }.joined(separator: ",") + ",\(y)\n"
        }
        try csv.write(to: directory.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        let spec: [String: Any] = [
            "name": "stability recovery", "data": ["csv": "data.csv"], "outcomes": ["y"],
            "features": (0..<10).map { ["name": "x\($0)", "encoding": "numeric"] },
            "alphas": ["count": 10, "minRatio": 0.01], "cv": ["folds": 3],
            "bootstrap": ["resamples": 10, "methods": ["percentile"]], "intervals": "penalized",
            "stability": ["pairs": 25, "q": 4], "seed": 5,
        ]
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("Stability selection (complementary pairs)")
struct StabilityTests {
    @Test("spec: defaults, q from the PFER target, and errors that name the key")
    func spec() throws {
        let job = try stabilityJob("{}")
        defer { job.remove() }
        let spec = try RunSpec.load(path: job.specPath)
        let st = try #require(spec.stability)
        #expect(st.pairs == 50 && st.threshold == 0.75 && st.q == nil && st.pfer == 1)
        // q = floor(sqrt(pfer (2 pi - 1) p)): p = 18 -> 3, p = 17 -> 2, p = 8 -> 2; never above p.
        #expect(st.selectionSize(penalizedFeatures: 18) == 3)
        #expect(st.selectionSize(penalizedFeatures: 17) == 2)
        #expect(st.selectionSize(penalizedFeatures: 1) == 1)
        #expect(StabilitySpec(q: 40).selectionSize(penalizedFeatures: 9) == 9)
        #expect(abs(StabilitySpec.pferBound(q: 3, threshold: 0.75, penalizedFeatures: 18) - 1) < 1e-15)
        #expect(abs(StabilitySpec.pferBound(q: 2, threshold: 0.9, penalizedFeatures: 10) - 0.5) < 1e-15)
        for (block, message) in [
            ("{\"threshold\": 0.5}", "stability.threshold"), ("{\"q\": 2, \"pfer\": 1}", "q or pfer"),
            ("{\"pairs\": 0}", "stability.pairs"), ("{\"cutoff\": 0.8}", "cutoff"), ("{\"q\": 0}", "stability.q"),
        ] {
            let bad = try stabilityJob(block, rows: 50)
            defer { bad.remove() }
            #expect {
                _ = try RunSpec.load(path: bad.specPath)
            } throws: { error in
                "\(error)".contains(message)
            }
        }
        let off = try stabilityJob("false", rows: 50)
        defer { off.remove() }
        #expect(try RunSpec.load(path: off.specPath).stability == nil)
    }

    @Test("halves: disjoint, floor(n/2) rows each, drawn from the seed alone")
    func halves() throws {
        let job = try stabilityJob("{\"pairs\": 4}")
        defer { job.remove() }
        let data = try RunData.load(spec: try RunSpec.load(path: job.specPath))
        let executor = TaskExecutor(data: data)
        var seen: Set<[Int]> = []
        for pair in 0..<4 {
            let h = executor.stabilityHalves(pair: pair)
            #expect(h.count == 2)
            #expect(h[0].reduce(0, +) == data.rowCount / 2 && h[1].reduce(0, +) == data.rowCount / 2)
            for c in 0..<data.cellCount.count { #expect(h[0][c] + h[1][c] <= data.cellCount[c]) }
            #expect(h == executor.stabilityHalves(pair: pair))
            seen.insert(h[0])
        }
        #expect(seen.count == 4, "pairs draw different halves")
    }

    @Test("a half's selection is the first q features on the standardized path, recomputed with independent cold fits")
    func selection() throws {
        let job = try stabilityJob("{\"pairs\": 3, \"q\": 3}")
        defer { job.remove() }
        let data = try RunData.load(spec: try RunSpec.load(path: job.specPath))
        let executor = TaskExecutor(data: data)
        let penalty = executor.stabilityPenalty()
        // Standardized paths: each half-sample is scaled by its own population SDs (the
        // solver's feature scales under the half's counts), whatever the spec's penalty says.
        #expect(penalty.standardize)
        #expect(penalty.factors == data.penalty.factors)
        let p = data.design.featureCount
        let someHalf = executor.stabilityHalves(pair: 0)[0]
        let scales = LogisticLasso.featureScales(design: data.design, cells: try data.cells(outcome: 0, counts: someHalf), penalty: penalty)
        var weight = [Double](repeating: 0, count: data.design.patternCount)
        for c in 0..<data.cellCount.count { weight[data.cellPattern[c]] += Double(someHalf[c]) }
        for j in 0..<p {
            let xs = (0..<weight.count).flatMap { k in repeatElement(data.design.value(pattern: k, feature: j), count: Int(weight[k])) }
            let mean = xs.reduce(0, +) / Double(xs.count)
            let sd = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)).squareRoot()
            #expect(abs(scales[j] - (sd > 0 ? sd : 1)) <= 1e-10 * max(1, sd), "feature \(j)")
        }
        var sizes: [Int] = []
        for pair in 0..<3 {
            for half in executor.stabilityHalves(pair: pair) {
                for o in 0..<data.outcomeCount {
                    let got = try executor.stabilitySelection(outcome: o, counts: half, penalty: penalty)
                    let cells = try data.cells(outcome: o, counts: half)
                    let top = try LogisticLasso.alphaMax(design: data.design, cells: cells, penalty: penalty)
                    var union = Set<Int>()
                    for alpha in LogisticLasso.geometricGrid(max: top, count: 100, minRatio: 1e-3) {
                        let fit = try LogisticLasso.fit(
                            design: data.design, cells: cells, alpha: alpha, penalty: penalty,
                            options: SolverOptions(tolerance: 1e-12))
                        let next = union.union((0..<p).filter { fit.coefficients[$0] != 0 })
                        if next.count > 3 { break }
                        union = next
                        if union.count == 3 { break }
                    }
                    #expect(got == union.sorted(), "pair \(pair) outcome \(o)")
                    sizes.append(got.count)
                }
            }
        }
        #expect(sizes.allSatisfy { $0 <= 3 } && sizes.contains(3))
    }

    @Test("units do not matter: features rescaled by 1000 and 0.001 get the same selection probabilities")
    func unitInvariance() throws {
        let plain = try ContinuousJob(scales: [Double](repeating: 1, count: 10))
        defer { plain.remove() }
        let rescaled = try ContinuousJob(scales: [1000, 1, 0.001, 1, 1, 1000, 1, 1, 1, 1])
        defer { rescaled.remove() }
        let a = try runJob(plain.specPath, threads: 2).report.outcomes[0], b = try runJob(rescaled.specPath, threads: 2).report.outcomes[0]
        let pa = a.features.map { $0.stability?.probability }, pb = b.features.map { $0.stability?.probability }
        #expect(pa == pb, "\(pa) vs \(pb)")
        #expect(a.stability?.selected == b.stability?.selected)
    }

    @Test("report: probabilities from 2 x pairs halves, selected at the threshold, the bound, CSV/text/HTML columns")
    func report() throws {
        let job = try stabilityJob("{\"pairs\": 12, \"batch\": 5, \"threshold\": 0.6}")
        defer { job.remove() }
        let (report, json, _) = try runJob(job.specPath, threads: 2)
        for o in report.outcomes {
            let st = try #require(o.stability)
            #expect(st.pairs == 12 && st.halves + st.failedHalves == 24 && st.threshold == 0.6)
            #expect(st.penalizedFeatures == o.features.count - 1)
            let q = StabilitySpec(threshold: 0.6).selectionSize(penalizedFeatures: st.penalizedFeatures)
            #expect(st.q == q)
            #expect(abs(st.pferBound - Double(q * q) / (0.2 * Double(st.penalizedFeatures))) < 1e-12)
            #expect(o.features[0].stability == nil, "the intercept is not selected among")
            var total = 0.0
            for f in o.features.dropFirst() {
                let s = try #require(f.stability, "\(f.name)")
                #expect((0...1).contains(s.probability))
                #expect(s.selected == (s.probability >= 0.6))
                #expect(
                    (s.probability * Double(st.halves)).rounded() == s.probability * Double(st.halves)
                        || abs((s.probability * Double(st.halves)).rounded() - s.probability * Double(st.halves)) < 1e-9)
                total += s.probability
            }
            // Each half selects at most q features, so the probabilities sum to at most q.
            #expect(total <= Double(q) + 1e-9)
            #expect(st.selected == o.features.filter { $0.stability?.selected == true }.map(\.name))
        }
        #expect(json.contains("\"pferBound\""))
        let csv = Render.csv(report)
        #expect(csv.split(separator: "\n")[0].contains("stabilityProbability,stabilitySelected"))
        #expect(Render.text(report).contains("stability selection (12 complementary pairs"))
        #expect(Render.html(report).contains("stability selection"))
        // Without the key the report keeps its old shape.
        let plain = try TemporaryJob(rows: 400) { TemporaryJob.standardSpec($0) }
        defer { plain.remove() }
        let old = try runJob(plain.specPath, threads: 2)
        #expect(!old.json.contains("stability"))
    }

    @Test("strong signals are selected, pure noise is not (n = 2000, 3 large effects, 7 null features, units 0.01 to 100)")
    func recovers() throws {
        let job = try ContinuousJob(scales: (0..<10).map { pow(10, Double($0 % 5 - 2)) })
        defer { job.remove() }
        let report = try runJob(job.specPath, threads: 2).report
        let st = try #require(report.outcomes[0].stability)
        #expect(st.selected == ["x0", "x1", "x2"], "\(report.outcomes[0].features.map { "\($0.name) \($0.stability?.probability ?? -1)" })")
        // With q = 4 and 3 real signals one slot per half goes to noise; no noise feature reaches the threshold.
        for f in report.outcomes[0].features.dropFirst(4) { #expect(f.stability!.probability < st.threshold, "\(f.name)") }
    }

    @Test("a worker's stability result is checked: shape, q, order, penalized features, task range")
    func validation() throws {
        let job = try stabilityJob("{\"pairs\": 7, \"batch\": 3, \"q\": 2}")
        defer { job.remove() }
        let data = try RunData.load(spec: try RunSpec.load(path: job.specPath))
        let executor = TaskExecutor(data: data)
        #expect(
            executor.phaseOneKeys().filter { if case .stability = $0 { return true } else { return false } }
                == [.stability(start: 0, end: 3), .stability(start: 3, end: 6), .stability(start: 6, end: 7)])
        let key = TaskKey.stability(start: 3, end: 6)
        let real = executor.run(key, input: nil)
        #expect(executor.validate(real, key: key) == nil)
        #expect(executor.certify(real, key: key, input: nil) == nil)
        guard case let .stability(selected) = real else { Issue.record("not a stability result"); return }
        #expect(selected.count == 6 && selected.allSatisfy { $0.count == 2 })
        var tooMany = selected; tooMany[0][0] = [0, 1, 2]
        var unsorted = selected; unsorted[1][1] = [4, 1]
        var outside = selected; outside[2][0] = [data.design.featureCount]
        var short = selected; short.removeLast()
        for (bad, what) in [(tooMany, "more than q"), (unsorted, "ascending"), (outside, "not a penalized feature"), (short, "half-samples")] {
            let problem = executor.validate(.stability(selected: bad), key: key)
            #expect(problem?.contains(what) == true, "\(what): \(problem ?? "accepted")")
        }
        #expect(executor.validate(real, key: .stability(start: 2, end: 5)) != nil)
        #expect(executor.keyProblem(.stability(start: 9, end: 10)) != nil)
        #expect(executor.validate(real, key: .cv(outcome: 0, fold: 0)) != nil)
    }
}
