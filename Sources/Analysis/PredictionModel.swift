import Foundation
import Lasso
import Tabular

/// A fitted model that scores new rows (`model.json`, written by `run --out` and `fit
/// --save-model`, read by `lassoboot predict`): the feature recipe as applied to the training
/// data (so new rows are encoded the same way), the coefficients on the original scale and, from
/// `run`, the bootstrap replicates behind per-row prediction intervals.
public struct PredictionModel: Codable, Sendable, Equatable {
    /// One spec feature, in job-spec terms (one-hot levels as found in the training data).
    public struct Feature: Codable, Sendable, Equatable {
        public var name: String
        public var column: String
        public var group: String
        /// `numeric`, `binary`, `ordinal`, `onehot` or `equals`.
        public var encoding: String
        public var levels: [String]?
        public var start: Int?
        public var reference: String?
        public var other: String?
        public var value: String?
        /// Missing-value policy (`zero`, `drop-row`, `own-level`, `error`).
        public var missing: String
        public var missingTokens: [String]?
        public var recode: [String: String]?
        /// One-hot levels rarer than this in training were pooled (``FeatureSpec/minCount``).
        public var minCount: Int?

        public init(_ f: FeatureSpec) {
            minCount = f.minCount > 1 ? f.minCount : nil
            name = f.name; column = f.column; group = f.group; missing = f.missing.rawValue
            missingTokens = f.missingTokens.isEmpty ? nil : f.missingTokens
            recode = f.recode.isEmpty ? nil : f.recode
            switch f.encoding {
            case .numeric: encoding = "numeric"
            case .binary: encoding = "binary"
            case let .ordinal(l, s): encoding = "ordinal"; levels = l; start = s
            case let .onehot(r, l): encoding = "onehot"; reference = r; levels = l
            case let .equals(o, v): encoding = "equals"; other = o; value = v
            }
        }

        /// The feature as the encoder applies it.
        public func spec(source: String) throws -> FeatureSpec {
            guard let policy = MissingPolicy(rawValue: missing) else {
                throw TabularError(file: source, message: "feature '\(name)': unknown missing policy '\(missing)'")
            }
            let e: FeatureEncoding
            switch encoding {
            case "numeric": e = .numeric
            case "binary": e = .binary
            case "ordinal": e = .ordinal(levels: levels ?? [], start: start ?? 1)
            case "onehot":
                guard let reference else {
                    throw TabularError(file: source, message: "feature '\(name)': a onehot encoding needs its reference level")
                }
                e = .onehot(reference: reference, levels: levels)
            case "equals": e = .equals(otherColumn: other, value: value)
            default: throw TabularError(file: source, message: "feature '\(name)': unknown encoding '\(encoding)'")
            }
            var f = FeatureSpec(name: name, column: column, encoding: e, missing: policy, group: group)
            f.missingTokens = missingTokens ?? []
            f.recode = recode ?? [:]
            f.minCount = minCount ?? 1
            return f
        }
    }

    /// One outcome's coefficients.
    public struct Outcome: Codable, Sendable, Equatable {
        public var name: String
        /// The alpha of the fit (penalty scale as in ``PredictionModel/scale``).
        public var alpha: Double
        public var intercept: Double
        /// One per expanded feature (``PredictionModel/columns``), original scale.
        public var coefficients: [Double]
        /// From `run`: the bootstrap replicates (intercept first), one per valid resample; the
        /// prediction interval of a row is their linear predictors' percentile interval.
        public var replicates: [[Double]]?

        public init(name: String, alpha: Double, intercept: Double, coefficients: [Double], replicates: [[Double]]? = nil) {
            self.name = name; self.alpha = alpha; self.intercept = intercept; self.coefficients = coefficients; self.replicates = replicates
        }
    }

    /// An expanded design column and its training mean and population SD.
    public struct Column: Codable, Sendable, Equatable {
        public var name: String
        public var mean: Double
        public var sd: Double

        public init(name: String, mean: Double, sd: Double) {
            self.name = name; self.mean = mean; self.sd = sd
        }
    }

    /// `lassoboot-model/1`.
    public var format: String = PredictionModel.formatName
    /// `run` or `fit`.
    public var source: String
    public var software: String
    /// Training data file name and the sha256 of its bytes.
    public var data: String
    public var dataHash: String
    public var trainingRows: Int
    /// Whether the penalty was per SD (glmnet's standardize=TRUE); coefficients are per unit either way.
    public var standardize: Bool
    /// `sum` or `mean`: how `alpha` relates to the data size.
    public var scale: String
    /// Level of the prediction intervals (the run's bootstrap level).
    public var level: Double
    public var missingTokens: [String]
    /// The field separator when the training data set one (`,` `;` `tab` `|`).
    public var delimiter: String?
    public var features: [Feature]
    public var columns: [Column]
    public var outcomes: [Outcome]

    public static let formatName = "lassoboot-model/1"

    public init(
        source: String, software: String, data: String, dataHash: String, encoded: EncodedData, standardize: Bool, scale: String,
        level: Double, missingTokens: [String], delimiter: String?, outcomes: [Outcome]
    ) {
        self.init(
            source: source, software: software, data: data, dataHash: dataHash, trainingRows: encoded.rowCount,
            features: encoded.features,
            columns: zip(encoded.featureNames.indices, encoded.oneHotShares).map { j, share in
                if let share {
                    return Column(name: encoded.featureNames[j], mean: share, sd: (share * (1 - share)).squareRoot())
                }
                let (mean, sd) = Warnings.populationMeanSD(encoded.columns[j])
                return Column(name: encoded.featureNames[j], mean: mean, sd: sd)
            },
            standardize: standardize, scale: scale, level: level, missingTokens: missingTokens, delimiter: delimiter, outcomes: outcomes)
    }

    /// A model from its recipe and column moments given directly: for a design never held as
    /// dense columns (`fit --onehot` with many levels).
    public init(
        source: String, software: String, data: String, dataHash: String, trainingRows: Int, features: [FeatureSpec],
        columns: [Column], standardize: Bool, scale: String, level: Double, missingTokens: [String], delimiter: String?,
        outcomes: [Outcome]
    ) {
        self.source = source; self.software = software; self.data = data; self.dataHash = dataHash
        self.trainingRows = trainingRows
        self.standardize = standardize; self.scale = scale; self.level = level
        self.missingTokens = missingTokens; self.delimiter = delimiter
        self.features = features.map(Feature.init)
        self.columns = columns
        self.outcomes = outcomes
    }

    /// The model file's text: sorted keys, shortest round-trip numbers.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Reads a model file; errors name the file and what is wrong.
    public static func load(path: String) throws -> PredictionModel {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw TabularError(file: path, message: "cannot read the model file (no such file?); `lassoboot run --out DIR` writes DIR/model.json")
        }
        let model: PredictionModel
        do {
            model = try JSONDecoder().decode(PredictionModel.self, from: bytes)
        } catch let DecodingError.keyNotFound(key, context) {
            throw TabularError(
                file: path, message: "not a lassoboot model file: no '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw TabularError(
                file: path, message: "not a lassoboot model file: wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw TabularError(file: path, message: "not a lassoboot model file (expected JSON written by run --out or fit --save-model)")
        }
        guard model.format == formatName else {
            throw TabularError(file: path, message: "model format '\(model.format)' is not one this version reads (\(formatName))")
        }
        for o in model.outcomes where o.coefficients.count != model.columns.count {
            throw TabularError(file: path, message: "outcome '\(o.name)': \(o.coefficients.count) coefficients for \(model.columns.count) columns")
        }
        return model
    }

    /// Scores of new rows.
    public struct Predictions: Sendable {
        /// 0-based data-row index of every row of the file, and its 1-based line.
        public var rows: [Int]
        public var lines: [Int]
        /// Per outcome, per row: the probability (`nil` where a missing value dropped the row).
        public var probability: [[Double?]]
        /// Per outcome, per row: the bootstrap percentile interval of the probability (models
        /// from `run` only).
        public var low: [[Double?]]?
        public var high: [[Double?]]?
        /// Rows left without a prediction, and why.
        public var dropped: [(reason: String, rows: Int)]
    }

    /// The feature recipe as a data spec without outcomes: what to read from new rows (its
    /// `textColumns` and `usedColumns`) and how to encode them.
    public func recipe(source: String) throws -> DataSpec {
        DataSpec(
            csv: source, missingTokens: missingTokens, features: try features.map { try $0.spec(source: source) }, outcomes: [],
            separator: delimiter.flatMap { CSVReader.separator(named: $0) })
    }

    /// Encodes `table` with the training recipe and scores every row.
    /// - Throws: when a feature column is missing, a level was never seen in training, or the
    ///   encoded columns differ from the model's.
    public func predict(_ table: Table) throws -> Predictions {
        // One-hot features are scored from each row's level slot: a model with thousands of
        // levels never makes rows x levels values.
        let encoded = try DataEncoder.encode(table, spec: try recipe(source: table.source), sparseOneHot: true)
        guard encoded.featureNames == columns.map(\.name) else {
            let missing = columns.map(\.name).filter { !encoded.featureNames.contains($0) }
            let extra = encoded.featureNames.filter { n in !columns.contains { $0.name == n } }
            throw TabularError(
                file: table.source,
                message:
                    "the new rows encode to different columns than the model's (missing: \(missing.joined(separator: ", ")); new: \(extra.joined(separator: ", ")))"
            )
        }
        let n = table.rowCount
        var position = [Int?](repeating: nil, count: n)
        for (k, r) in encoded.sourceRows.enumerated() { position[r] = k }
        let all = 0..<encoded.rowCount
        var probability: [[Double?]] = [], lows: [[Double?]] = [], highs: [[Double?]] = []
        let tail = (1 - level) / 2
        for o in outcomes {
            let eta = encoded.linearPredictors([o.intercept] + o.coefficients, rows: all)
            probability.append((0..<n).map { r in position[r].map { PredictionModel.logistic(eta[$0]) } })
            if let reps = o.replicates, !reps.isEmpty {
                // Per chunk of kept rows, every replicate's linear predictors: memory stays
                // chunk x replicates whatever the number of rows.
                var lo = [Double?](repeating: nil, count: n), hi = [Double?](repeating: nil, count: n)
                var column = [Double](repeating: 0, count: reps.count)
                for start in stride(from: 0, to: all.count, by: 1024) {
                    let chunk = start..<min(start + 1024, all.count)
                    let etas = reps.map { encoded.linearPredictors($0, rows: chunk) }
                    for (i, k) in chunk.enumerated() {
                        let r = encoded.sourceRows[k]
                        for b in reps.indices { column[b] = etas[b][i] }
                        column.sort()
                        lo[r] = PredictionModel.logistic(PredictionModel.quantile(column, tail))
                        hi[r] = PredictionModel.logistic(PredictionModel.quantile(column, 1 - tail))
                    }
                }
                lows.append(lo); highs.append(hi)
            }
        }
        let withIntervals = !lows.isEmpty && lows.count == outcomes.count
        return Predictions(
            rows: Array(0..<n), lines: table.rowLines.map { Int($0) }, probability: probability,
            low: withIntervals ? lows : nil, high: withIntervals ? highs : nil,
            dropped: encoded.dropped.filter { $0.rows > 0 })
    }

    /// 1 / (1 + e^-eta), without overflow.
    public static func logistic(_ eta: Double) -> Double {
        eta >= 0 ? 1 / (1 + Foundation.exp(-eta)) : Foundation.exp(eta) / (1 + Foundation.exp(eta))
    }

    /// Linear-interpolation quantile of sorted values (R type 7, NumPy's default).
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        let h = Double(sorted.count - 1) * p
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// The predictions as CSV: `row,line`, then per outcome its probability (and `Low,High`
    /// when the model has replicates). Rows without a prediction have empty cells.
    public static func csv(_ p: Predictions, outcomes: [String]) -> String {
        var header = ["row", "line"]
        for o in outcomes {
            header.append(o)
            if p.low != nil { header += ["\(o)Low", "\(o)High"] }
        }
        var out = header.map(csvField).joined(separator: ",") + "\n"
        for (k, r) in p.rows.enumerated() {
            var cells = ["\(r)", "\(p.lines[k])"]
            for o in outcomes.indices {
                cells.append(p.probability[o][k].map { "\($0)" } ?? "")
                if let low = p.low, let high = p.high {
                    cells += [low[o][k].map { "\($0)" } ?? "", high[o][k].map { "\($0)" } ?? ""]
                }
            }
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }
}
