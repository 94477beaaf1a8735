import Foundation

/// What to do with a missing cell of a feature or outcome.
public enum MissingPolicy: String, Sendable, Equatable, CaseIterable {
    /// Treat missing as 0 (the codebook's rule for binarized indicators).
    case zero
    /// Drop the row from the analysis (counted in the report).
    case dropRow = "drop-row"
    /// Add an indicator column "<name>: missing" and set the value itself to 0.
    case ownLevel = "own-level"
    /// Stop with an error naming the file, line and column.
    case error
}

/// How one feature is made from the data.
public enum FeatureEncoding: Sendable, Equatable {
    /// The column's numbers as they are.
    case numeric
    /// 1 stays 1; 0 and missing become 0 (the codebook binarizes means of control and recruiter relations so).
    case binary
    /// Text levels in order; level `i` (0-based) becomes `start + i`.
    case ordinal(levels: [String], start: Int)
    /// One 0/1 column per level except the reference.
    case onehot(reference: String, levels: [String]?)
    /// 1 when the column equals another column (e.g. citizenship == country of exploitation) or a fixed value.
    case equals(otherColumn: String?, value: String?)
}

/// One feature of a job spec.
public struct FeatureSpec: Sendable, Equatable {
    /// Name in reports (one-hot levels become "name: level").
    public var name: String
    /// Source column in the CSV.
    public var column: String
    public var encoding: FeatureEncoding
    public var missing: MissingPolicy
    /// Report group (e.g. "Demographics"); features are printed grouped in spec order.
    public var group: String
    /// Texts that mean "missing" for this feature only (text encodings), e.g. "Unknown" for age
    /// while "Unknown" stays a level elsewhere.
    public var missingTokens: [String] = []
    /// Text values renamed before encoding (text encodings), e.g. {"Unknown": "Male"} to merge
    /// a level into the reference.
    public var recode: [String: String] = [:]
    /// One-hot levels seen in fewer kept rows than this are pooled into one level,
    /// ``FeatureSpec/pooledLevel`` (scikit-learn's `min_frequency`): rare levels of a
    /// high-cardinality column would otherwise give near-empty indicators, and two of them seen in
    /// the same rows identical ones. New rows' levels outside the model's list go to the pooled
    /// level too. 1: no pooling.
    public var minCount: Int = 1
    /// The name of the pooled level of rare one-hot levels.
    public static let pooledLevel = "(infrequent)"

    public init(name: String, column: String, encoding: FeatureEncoding, missing: MissingPolicy, group: String) {
        self.name = name
        self.column = column
        self.encoding = encoding
        self.missing = missing
        self.group = group
    }
}

/// One binary outcome of a job spec.
public struct OutcomeSpec: Sendable, Equatable {
    public var name: String
    public var column: String
    public var missing: MissingPolicy
    /// For a text outcome: the level that counts as 1 (every other level is 0). `nil`: the
    /// column holds 0/1 or true/false.
    public var positive: String?

    public init(name: String, column: String, missing: MissingPolicy, positive: String? = nil) {
        self.name = name
        self.column = column
        self.missing = missing
        self.positive = positive
    }
}

/// Keep only rows whose `column` has one of `values` (compared as text), or, with `exclude`,
/// drop rows that have one of them.
public struct RowFilter: Sendable, Equatable {
    public var column: String
    public var values: [String]
    /// `notIn` instead of `in`: rows with a missing cell are kept.
    public var exclude: Bool = false

    public init(column: String, values: [String], exclude: Bool = false) {
        self.column = column
        self.values = values
        self.exclude = exclude
    }
}

/// How a run holds its design: `dense` (rows x features values, compressed into patterns), or
/// `sparse` (compressed sparse columns: memory follows the nonzero count, for one-hot encodings of
/// many levels); `automatic` picks sparse from 64 features when under 5% of the values are nonzero.
public enum DesignStorage: String, Sendable, Equatable, CaseIterable {
    case automatic, dense, sparse
}

/// The data part of a job spec: where the rows come from and how they become a design.
public struct DataSpec: Sendable, Equatable {
    /// Absolute path of the CSV file.
    public var csv: String
    public var filters: [RowFilter]
    /// Keep rows where at least one of these columns is present (the codebook's denominator rule).
    public var includeIfAnyPresent: [String]
    /// Cell texts that mean "missing" besides the empty cell (e.g. "NA", "Unknown").
    public var missingTokens: [String]
    public var features: [FeatureSpec]
    public var outcomes: [OutcomeSpec]
    /// `"features": "all"`: every column of the file is a numeric feature except these, the
    /// outcomes and the filter columns (``resolved(columns:)`` expands it once the header is
    /// known); `nil` when the spec lists its features.
    public var allFeaturesExcept: [String]?
    /// Field separator (`nil`: detected from the header).
    public var separator: UInt8?
    /// How the design is held (`data.storage`).
    public var storage: DesignStorage = .automatic

    public init(
        csv: String, filters: [RowFilter] = [], includeIfAnyPresent: [String] = [], missingTokens: [String] = ["NA", "NaN"],
        features: [FeatureSpec], outcomes: [OutcomeSpec], allFeaturesExcept: [String]? = nil, separator: UInt8? = nil
    ) {
        self.csv = csv
        self.filters = filters
        self.includeIfAnyPresent = includeIfAnyPresent
        self.missingTokens = missingTokens
        self.features = features
        self.outcomes = outcomes
        self.allFeaturesExcept = allFeaturesExcept
        self.separator = separator
    }

    /// The spec with `"features": "all"` expanded over a file's columns (numeric features in file
    /// order, group "Features"); unchanged when it lists its features.
    /// - Throws: when no column is left, or an excluded column is not in the file.
    public func resolved(columns: [String], source: String) throws -> DataSpec {
        guard let except = allFeaturesExcept else { return self }
        for name in except where !columns.contains(name) {
            throw TabularError(
                file: source, line: 1, message: "exclude: no column named '\(name)' in the header; columns are: \(columns.joined(separator: ", "))")
        }
        let skip = Set(except).union(outcomes.map(\.column)).union(filters.map(\.column))
        var copy = self
        copy.features = columns.filter { !skip.contains($0) }.map {
            FeatureSpec(name: $0, column: $0, encoding: .numeric, missing: .error, group: "Features")
        }
        copy.allFeaturesExcept = nil
        if copy.features.isEmpty {
            throw TabularError(
                file: source, line: 1,
                message: "no feature columns are left after removing the outcome(s), the filter columns and the excluded columns")
        }
        return copy
    }

    /// Reads the `data`, `features` and `outcomes` members of a job spec; relative CSV paths
    /// are resolved against `baseDirectory` (the spec file's directory).
    ///
    /// `features` is a list (objects, or plain strings for numeric features) or `"all"`; with
    /// `"all"`, `exclude` lists columns that are not features.
    /// `allowNoOutcome` reads a feature recipe alone (a model file's, to encode new rows).
    public static func parse(
        data: JSONNode, features: JSONNode, outcomes: JSONNode, exclude: JSONNode? = nil,
        baseDirectory: String, allowNoOutcome: Bool = false
    ) throws -> DataSpec {
        let d = try data.object(allowed: ["csv", "filter", "includeIfAnyPresent", "missingTokens", "delimiter", "storage"])
        let csvNode = try d.required("csv", in: data)
        var csv = try csvNode.string()
        // "sha256:<hash>" names a dataset held by a coordinator; anything else is a path.
        if !csv.hasPrefix("/") && !csv.hasPrefix("sha256:") {
            csv = URL(fileURLWithPath: baseDirectory).appendingPathComponent(csv).standardized.path
        }
        var filters: [RowFilter] = []
        for f in try d["filter"]?.array() ?? [] {
            let o = try f.object(allowed: ["column", "in", "notIn"])
            guard (o["in"] == nil) != (o["notIn"] == nil) else { throw f.error("give exactly one of 'in' (keep) or 'notIn' (drop)") }
            let values = o["in"] ?? o["notIn"]!
            let list = try values.array().map { v -> String in
                if v.isNumber { let x = try v.double(); return x == x.rounded() ? String(Int(x)) : "\(x)" }
                return try v.string()
            }
            if list.isEmpty { throw values.error("the list of values is empty") }
            filters.append(RowFilter(column: try o.required("column", in: f).string(), values: list, exclude: o["notIn"] != nil))
        }
        let include = try d["includeIfAnyPresent"]?.strings() ?? []
        let tokens = try d["missingTokens"]?.strings() ?? ["NA", "NaN"]
        var separator: UInt8?
        if let x = d["delimiter"] {
            let text = try x.string()
            guard let b = CSVReader.separator(named: text) else { throw x.error("expected one of \",\", \";\", \"tab\", \"|\"") }
            separator = b
        }

        var featureSpecs: [FeatureSpec] = []
        var allExcept: [String]?
        let featureNodes: [JSONNode]
        if features.isString {
            _ = try features.choice(["all"])
            allExcept = try exclude?.strings() ?? []
            featureNodes = []
        } else {
            if let exclude { throw exclude.error("'exclude' goes with \"features\": \"all\"; a feature list names its columns itself") }
            featureNodes = try features.array()
            if featureNodes.isEmpty { throw features.error("at least one feature is needed") }
        }
        for node in featureNodes {
            if node.isString {
                let c = try node.string()
                featureSpecs.append(FeatureSpec(name: c, column: c, encoding: .numeric, missing: .error, group: "Features"))
                continue
            }
            let o = try node.object(allowed: ["name", "column", "encoding", "missing", "group", "missingTokens", "recode"])
            let column = try o["column"]?.string() ?? (try o.required("name", in: node).string())
            let name = try o["name"]?.string() ?? column
            let encoding = try parseEncoding(o["encoding"], parent: node)
            let defaultMissing: MissingPolicy
            switch encoding {
            case .binary, .equals: defaultMissing = .zero
            default: defaultMissing = .error
            }
            let missing = try o["missing"].map { MissingPolicy(rawValue: try $0.choice(MissingPolicy.allCases.map(\.rawValue)))! } ?? defaultMissing
            if case let .ordinal(_, start) = encoding, start == 0, missing == .zero {
                throw (o["missing"] ?? node).error(
                    "with \"start\": 0 a missing value coded 0 would equal the first level; use start >= 1 or missing own-level")
            }
            var isText = true
            if case .numeric = encoding { isText = false }
            if case .binary = encoding { isText = false }
            var spec = FeatureSpec(
                name: name, column: column, encoding: encoding, missing: missing,
                group: try o["group"]?.string() ?? "Features")
            if let e = o["encoding"], !e.isString,
                let m = try e.object(allowed: ["type", "levels", "start", "reference", "other", "value", "minCount"])["minCount"]
            {
                let count = try m.int()
                guard count >= 1 else { throw m.error("minCount must be at least 1 (1: no pooling)") }
                spec.minCount = count
            }
            if let t = o["missingTokens"] {
                guard isText else {
                    throw t.error("missingTokens apply to text encodings (ordinal, onehot, equals); use data.missingTokens for numbers")
                }
                spec.missingTokens = try t.strings()
            }
            if let r = o["recode"] {
                guard isText else { throw r.error("recode applies to text encodings (ordinal, onehot, equals)") }
                guard case let .object(dict) = r.value else { throw r.error("expected an object mapping a text value to its replacement") }
                let members = try r.object(allowed: Array(dict.keys))
                for key in members.keys.sorted() { spec.recode[key] = try members[key]!.string() }
            }
            featureSpecs.append(spec)
        }
        let names = featureSpecs.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw features.error("feature name '\(dup)' is used twice")
        }
        var outcomeSpecs: [OutcomeSpec] = []
        let outcomeNodes = try outcomes.array()
        if outcomeNodes.isEmpty && !allowNoOutcome { throw outcomes.error("at least one outcome is needed") }
        for node in outcomeNodes {
            if node.isString {
                let c = try node.string()
                outcomeSpecs.append(OutcomeSpec(name: c, column: c, missing: .error))
                continue
            }
            let o = try node.object(allowed: ["name", "column", "missing", "positive"])
            let column = try o["column"]?.string() ?? (try o.required("name", in: node).string())
            let missing =
                try o["missing"].map { m -> MissingPolicy in
                    let s = try m.choice(["zero", "drop-row", "error"])
                    return MissingPolicy(rawValue: s)!
                } ?? .error
            var positive: String?
            if let x = o["positive"] {
                if x.isNumber { let v = try x.double(); positive = v == v.rounded() ? String(Int(v)) : "\(v)" } else { positive = try x.string() }
            }
            outcomeSpecs.append(OutcomeSpec(name: try o["name"]?.string() ?? column, column: column, missing: missing, positive: positive))
        }
        let outcomeNames = outcomeSpecs.map(\.name)
        if let dup = outcomeNames.first(where: { n in outcomeNames.filter { $0 == n }.count > 1 }) {
            throw outcomes.error("outcome '\(dup)' is listed twice")
        }
        for (i, f) in featureSpecs.enumerated() where outcomeSpecs.contains(where: { $0.column == f.column }) {
            throw featureNodes[i].error("column '\(f.column)' is an outcome; it cannot also be a feature")
        }
        if let allExcept, let clash = allExcept.first(where: { c in outcomeSpecs.contains { $0.column == c } }) {
            throw exclude!.error("'\(clash)' is an outcome; outcomes are never features, so it need not be excluded")
        }
        var spec = DataSpec(
            csv: csv, filters: filters, includeIfAnyPresent: include, missingTokens: tokens,
            features: featureSpecs, outcomes: outcomeSpecs, allFeaturesExcept: allExcept, separator: separator)
        if let x = d["storage"] { spec.storage = DesignStorage(rawValue: try x.choice(DesignStorage.allCases.map(\.rawValue)))! }
        return spec
    }

    static func parseEncoding(_ node: JSONNode?, parent: JSONNode) throws -> FeatureEncoding {
        guard let node else { return .numeric }
        let kinds = ["numeric", "binary", "ordinal", "onehot", "equals"]
        if node.isString {
            switch try node.choice(kinds) {
            case "numeric": return .numeric
            case "binary": return .binary
            default: throw node.error("encoding '\(try node.string())' needs parameters: write it as an object with \"type\"")
            }
        }
        let o = try node.object(allowed: ["type", "levels", "start", "reference", "other", "value", "minCount"])
        let type = try o.required("type", in: node).choice(kinds)
        let allowed: [String: [String]] = [
            "numeric": ["type"], "binary": ["type"], "ordinal": ["type", "levels", "start"],
            "onehot": ["type", "reference", "levels", "minCount"], "equals": ["type", "other", "value"],
        ]
        for key in o.keys where !allowed[type]!.contains(key) {
            throw o[key]!.error("not a parameter of the '\(type)' encoding; it takes \(allowed[type]!.joined(separator: ", "))")
        }
        switch type {
        case "numeric": return .numeric
        case "binary": return .binary
        case "ordinal":
            let levelsNode = try o.required("levels", in: node)
            let levels = try levelsNode.strings()
            if levels.isEmpty { throw levelsNode.error("an ordinal encoding needs at least one level") }
            if Set(levels).count != levels.count { throw levelsNode.error("levels must be distinct") }
            return .ordinal(levels: levels, start: try o["start"]?.int() ?? 1)
        case "onehot":
            let levels = try o["levels"]?.strings()
            let reference = try o.required("reference", in: node).string()
            if let levels, !levels.contains(reference) {
                throw o["reference"]!.error("reference level '\(reference)' is not among the levels \(levels.joined(separator: ", "))")
            }
            return .onehot(reference: reference, levels: levels)
        default:
            let other = try o["other"]?.string(), value = try o["value"]?.string()
            if (other == nil) == (value == nil) { throw node.error("an 'equals' encoding needs exactly one of 'other' (a column) or 'value'") }
            return .equals(otherColumn: other, value: value)
        }
    }

    /// Every column the spec reads; the CSV reader skips the others (`nil`: every column, for
    /// `"features": "all"`).
    public var usedColumns: Set<String>? {
        if allFeaturesExcept != nil { return nil }
        var s = Set(filters.map(\.column)).union(includeIfAnyPresent).union(outcomes.map(\.column))
        for f in features {
            s.insert(f.column)
            if case let .equals(other, _) = f.encoding, let other { s.insert(other) }
        }
        return s
    }

    /// Columns the CSV must be read as text for (everything compared or looked up as text).
    public var textColumns: Set<String> {
        var s = Set(filters.map(\.column)).union(outcomes.filter { $0.positive != nil }.map(\.column))
        for f in features {
            switch f.encoding {
            case .numeric, .binary: break
            case .ordinal, .onehot: s.insert(f.column)
            case let .equals(other, _):
                s.insert(f.column)
                if let other { s.insert(other) }
            }
        }
        return s
    }
}
