import Foundation
import Lasso
import Resampling
import Tabular

/// Everything a task needs that follows from (spec, data) alone: the compressed design, the
/// joint (covariates, outcomes) cells that bootstrap draws run over, the fold assignment and
/// the alpha grids. Every process (the coordinator and each worker) derives the same RunData
/// from the same spec and bytes, so a task is a pure function of its key.
public struct RunData: Sendable {
    public let spec: RunSpec
    /// sha256 of the CSV bytes.
    public let dataHash: String
    public let encoded: EncodedData
    public let design: CompressedDesign
    /// Penalty with per-feature factors expanded to the design's columns.
    public let penalty: Penalty
    /// Distinct (pattern, outcome values) cells: the unit of a bootstrap draw.
    public let cellPattern: [Int]
    /// Outcome values (0/1) of each cell, `cellOutcomes[cell][outcome]`.
    public let cellOutcomes: [[Double]]
    /// Rows in each cell.
    public let cellCount: [Int]
    /// Cell of each kept row.
    public let rowCell: [Int32]
    /// Fold (0..<K) of each kept row, stratified by the outcome combination.
    public let folds: [Int]
    /// Rows per fold and cell: `foldCellCount[fold][cell]`.
    public let foldCellCount: [[Int]]
    /// Alpha grid of each outcome, decreasing, on the penalty's scale.
    public let grids: [[Double]]
    /// With `auto` debiasing where the rows per coefficient do not already decide the method: the
    /// fewest events or non-events at the rarer value of a two-valued feature
    /// (``rarestBinaryCount(design:cells:)``); `nil` otherwise or without such features.
    public let rarestBinaryCount: Double?

    public var outcomeCount: Int { encoded.outcomeNames.count }
    public var rowCount: Int { encoded.rowCount }

    /// Loads the CSV named by the spec and prepares the run.
    public static func load(spec: RunSpec) throws -> RunData {
        guard let bytes = FileManager.default.contents(atPath: spec.data.csv) else {
            throw TabularError(file: spec.data.csv, message: "cannot read the data file named by \(spec.source) (data.csv)")
        }
        return try RunData(spec: spec, csvBytes: bytes)
    }

    /// Prepares a run from the CSV's bytes (as a worker that fetched them by hash would).
    /// - Parameter hash: the bytes' sha256 when the caller already knows it (content-addressed
    ///   datasets), to save hashing them again.
    /// - Parameter cache: parsed datasets kept between runs (a worker's); a hit skips reading,
    ///   encoding and compressing the data.
    public init(spec: RunSpec, csvBytes: Data, hash: String? = nil, cache: DatasetCache? = nil) throws {
        self.spec = spec
        dataHash = hash ?? SHA256.hex(csvBytes)
        let encoded: EncodedData, design: CompressedDesign
        if let cached = cache?.get(hash: dataHash, spec: spec.data) {
            (encoded, design) = cached
        } else {
            (encoded, design) = try Self.read(spec: spec, csvBytes: csvBytes)
            cache?.put(hash: dataHash, spec: spec.data, encoded: encoded, design: design)
        }
        self.encoded = encoded
        self.design = design

        // Penalty factors by expanded feature name or by spec feature name.
        var factors = [Double](repeating: 1, count: design.featureCount)
        if !spec.penaltyFactors.isEmpty {
            for (j, name) in encoded.featureNames.enumerated() {
                if let f = spec.penaltyFactors[name] { factors[j] = f; continue }
                for (specName, f) in spec.penaltyFactors where name.hasPrefix(specName + ": ") { factors[j] = f }
            }
        }
        for key in spec.penaltyFactors.keys.sorted()
        where !encoded.featureNames.contains(where: { $0 == key || $0.hasPrefix(key + ": ") }) {
            throw TabularError(
                file: spec.source,
                message: "penalty.factors.\(key): no encoded feature column is named so; columns are \(encoded.featureNames.joined(separator: ", "))")
        }
        if spec.intervals == .debiased, design.featureCount + 1 > Self.nodewiseCoefficientLimit {
            let gib = Double((design.featureCount + 1) * (design.featureCount + 1) * 8 * (spec.cv.folds + 4)) / 1_073_741_824
            throw TabularError(
                file: spec.source,
                message:
                    "\(design.featureCount + 1) coefficients: debiased intervals would need p x p matrices (about \(String(format: "%.0f", gib)) GiB for the desparsified lasso, O(p^3) per resample for Newton steps or Firth) beyond \(Self.nodewiseCoefficientLimit) coefficients; set \"intervals\": \"penalized\" (the bootstrap intervals of the penalized fit), or pool rare one-hot levels (\"minCount\")"
            )
        }
        var penalty = spec.penalty
        penalty.factors = spec.penaltyFactors.isEmpty ? nil : factors
        self.penalty = penalty

        // Joint cells.
        let n = encoded.rowCount
        let k = encoded.outcomeNames.count
        var index: [[Int32]: Int32] = [:]
        var cellPattern: [Int] = [], cellOutcomes: [[Double]] = [], cellCount: [Int] = []
        var rowCell = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            var key: [Int32] = [design.rowPattern[i]]
            for o in 0..<k { key.append(Int32(encoded.outcomes[o][i])) }
            if let c = index[key] {
                rowCell[i] = c
                cellCount[Int(c)] += 1
            } else {
                let c = Int32(cellPattern.count)
                index[key] = c
                rowCell[i] = c
                cellPattern.append(Int(design.rowPattern[i]))
                cellOutcomes.append((0..<k).map { encoded.outcomes[$0][i] })
                cellCount.append(1)
            }
        }
        self.cellPattern = cellPattern
        self.cellOutcomes = cellOutcomes
        self.cellCount = cellCount
        self.rowCell = rowCell

        // Folds stratified by the outcome combination.
        let strata = (0..<n).map { i in (0..<k).reduce(0) { $0 * 2 + Int(encoded.outcomes[$1][i]) } }
        var stream = RandomStream(seed: spec.seed, purpose: .folds, index: 0)
        let folds = try Folds.stratified(strata: strata, k: spec.cv.folds, stream: &stream)
        self.folds = folds
        var foldCellCount = [[Int]](repeating: [Int](repeating: 0, count: cellPattern.count), count: spec.cv.folds)
        for i in 0..<n { foldCellCount[folds[i]][Int(rowCell[i])] += 1 }
        self.foldCellCount = foldCellCount

        // Alpha grids (joint choice needs one common grid).
        var grids: [[Double]] = []
        let full = try (0..<k).map { o in
            try Self.cells(design: design, cellPattern: cellPattern, cellOutcomes: cellOutcomes, counts: cellCount, outcome: o)
        }
        switch spec.alphas {
        case let .values(v):
            grids = Array(repeating: v, count: k)
        case let .automatic(count, ratio):
            let tops = try full.map { try LogisticLasso.alphaMax(design: design, cells: $0, penalty: penalty) }
            if spec.cv.choice == .joint {
                let top = tops.max()!
                grids = Array(repeating: LogisticLasso.geometricGrid(max: top, count: count, minRatio: ratio), count: k)
            } else {
                grids = tops.map { LogisticLasso.geometricGrid(max: $0, count: count, minRatio: ratio) }
            }
        }
        self.grids = grids
        // Only where it can decide `auto`'s choice: the rows-per-coefficient rules come first.
        let coefficients = design.featureCount + 1
        let undecided = coefficients < encoded.rowCount && encoded.rowCount >= Self.firthRowsPerCoefficient * coefficients
        rarestBinaryCount =
            spec.intervals == .debiased && spec.debias.method == .auto && undecided
            ? Self.rarestBinaryCount(design: design, cells: full) : nil
    }

    /// The fewest events or non-events among the rows at the rarer value of a two-valued feature,
    /// over the features and outcomes: below ``RunData/firthBinaryCount`` the maximum-likelihood
    /// estimate is near separation and `auto` debiases with Firth's estimate.
    static func rarestBinaryCount(design: CompressedDesign, cells: [BinomialCells]) -> Double? {
        cells.flatMap { rareValueCounts(design: design, cells: $0).compactMap { $0 } }.min()
    }

    /// Per feature, the fewer of events and non-events among the rows at the rarer value of a
    /// two-valued feature (`nil` for a feature with one value or more than two).
    static func rareValueCounts(design: CompressedDesign, cells c: BinomialCells) -> [Double?] {
        (0..<design.featureCount).map { j -> Double? in
            // The feature's two values (a third: not two-valued) and, per value, rows and events.
            var values: [Double] = [], rows = [0.0, 0.0], events = [0.0, 0.0]
            for k in 0..<design.patternCount where c.trials[k] > 0 {
                let v = design.value(pattern: k, feature: j)
                var slot = values.firstIndex(of: v)
                if slot == nil {
                    guard values.count < 2 else { return nil }
                    values.append(v)
                    slot = values.count - 1
                }
                rows[slot!] += c.trials[k]
                events[slot!] += c.successes[k]
            }
            guard values.count == 2 else { return nil }
            let rare = rows[0] <= rows[1] ? 0 : 1
            return min(events[rare], rows[rare] - events[rare])
        }
    }

    /// Reads, encodes and compresses the data of `spec` (what a ``DatasetCache`` keeps).
    static func read(spec: RunSpec, csvBytes: Data) throws -> (EncodedData, CompressedDesign) {
        var hints: [String: String] = [:]
        for o in spec.data.outcomes where o.positive == nil {
            hints[o.column] =
                "outcome '\(o.name)' is 0/1 or true/false; for a text outcome name the level that counts as 1 (\"positive\" in the spec, --positive LEVEL on the command line)"
        }
        var reader = CSVReader(
            textColumns: spec.data.textColumns, separator: spec.data.separator,
            missingTokens: Set(spec.data.missingTokens), usedColumns: spec.data.usedColumns, hints: hints)
        reader.ignoredColumns = Set(spec.data.allFeaturesExcept ?? [])
        // The table is handed over (not kept), so the encoder can release its columns as it goes.
        // One-hot features come out as level slots, written out densely only for a dense design.
        let oneHot = spec.data.features.contains { if case .onehot = $0.encoding { return true } else { return false } }
        var encoded = try DataEncoder.encode(
            reader.parse(csvBytes, source: spec.data.csv), spec: spec.data, sparseOneHot: oneHot && spec.data.storage != .dense)
        let design: CompressedDesign
        if Self.holdsSparse(encoded, storage: spec.data.storage) {
            let (start, rows, values) = encoded.compressedColumns()
            design = try CompressedDesign(featureNames: encoded.featureNames, rowCount: encoded.rowCount, start: start, rows: rows, values: values)
        } else {
            encoded = encoded.densified()
            design = try CompressedDesign(featureNames: encoded.featureNames, columns: encoded.columns)
        }
        if let group = design.duplicateFeatureGroups().first {
            let names = group.map { "'\(encoded.featureNames[$0])'" }.joined(separator: " and ")
            let oneHot = group.allSatisfy { j in
                encoded.features.contains { f in
                    if case .onehot = f.encoding { return encoded.featureNames[j].hasPrefix(f.name + ": ") } else { return false }
                }
            }
            throw TabularError(
                file: spec.source,
                message: "features \(names) are identical in every row: the lasso cannot tell them apart; remove all but one"
                    + (oneHot ? " (rare one-hot levels seen in the same rows: pool them with the encoding's \"minCount\", e.g. 5)" : ""))
        }
        return (encoded, design)
    }

    /// Whether the design is held as sparse columns: as `data.storage` says, and with `automatic`
    /// from ``LogisticLasso/workingSetThreshold`` features when under 5% of the values are nonzero
    /// (the rule of `lassoboot fit --storage automatic`).
    static func holdsSparse(_ encoded: EncodedData, storage: DesignStorage) -> Bool {
        switch storage {
        case .dense: return false
        case .sparse: return true
        case .automatic:
            let p = encoded.featureNames.count
            guard p >= LogisticLasso.workingSetThreshold, encoded.rowCount > 0 else { return false }
            return Double(encoded.nonzeroCount) < 0.05 * Double(encoded.rowCount) * Double(p)
        }
    }

    /// Why cross-validation by AUC cannot score this run (a held-out fold with a single outcome
    /// level: too few events for the fold count), or `nil`. The coordinator refuses such a run
    /// at intake with this sentence instead of failing it fold by fold.
    public var singleLevelFoldProblem: String? {
        guard spec.cv.metric == .auc else { return nil }
        let n = rowCount
        for o in 0..<outcomeCount {
            var events = [Int](repeating: 0, count: spec.cv.folds), rows = [Int](repeating: 0, count: spec.cv.folds)
            for i in 0..<n {
                rows[folds[i]] += 1
                if encoded.outcomes[o][i] == 1 { events[folds[i]] += 1 }
            }
            let lacking = (0..<spec.cv.folds).filter { events[$0] == 0 || events[$0] == rows[$0] }.count
            if lacking > 0 {
                let total = encoded.outcomes[o].reduce(0, +)
                let rarer = Int(min(total, Double(n) - total))
                return
                    "outcome '\(encoded.outcomeNames[o])': only \(rarer) rows have its rarer level, so \(lacking) of the \(spec.cv.folds) cross-validation folds hold a single outcome level and their AUC is undefined; use at most \(max(2, rarer)) folds (cv.folds, --folds) or \"metric\": \"deviance\" (and expect unreliable estimates with so few events)"
            }
        }
        return nil
    }

    /// Binomial cells of one outcome for given per-cell row counts.
    public func cells(outcome: Int, counts: [Int]) throws -> BinomialCells {
        try Self.cells(design: design, cellPattern: cellPattern, cellOutcomes: cellOutcomes, counts: counts, outcome: outcome)
    }

    static func cells(design: CompressedDesign, cellPattern: [Int], cellOutcomes: [[Double]], counts: [Int], outcome: Int) throws -> BinomialCells {
        var s = [Double](repeating: 0, count: design.stride)
        var t = [Double](repeating: 0, count: design.stride)
        for c in 0..<counts.count where counts[c] > 0 {
            let k = cellPattern[c]
            t[k] += Double(counts[c])
            s[k] += Double(counts[c]) * cellOutcomes[c][outcome]
        }
        return BinomialCells(successes: s, trials: t, patternCount: design.patternCount)
    }

    /// Row counts per cell of the training part of fold `f` (all other folds).
    public func trainingCounts(fold f: Int) -> [Int] {
        cellCount.indices.map { cellCount[$0] - foldCellCount[f][$0] }
    }

    /// The penalty on the sum scale that matches `alpha` for a fit on `weight` rows.
    ///
    /// Cross-validation fits on (K-1)/K of the rows; on the sum scale the same alpha would
    /// penalize them relatively harder, so fold fits use alpha * weight / n (glmnet's convention:
    /// lambda is per observation).
    func scaledAlpha(_ alpha: Double, weight: Double) -> Double {
        penalty.scale == .mean ? alpha : alpha * weight / Double(rowCount)
    }
}
