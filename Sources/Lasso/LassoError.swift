/// Why a design could not be built or a fit could not be certified.
///
/// Every case carries enough context (feature names, row indices, numbers) to tell the user
/// what to change; a fit never returns a number it cannot vouch for.
public enum LassoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A covariate value is NaN or infinite.
    case nonFiniteValue(feature: String, row: Int, value: Double)
    /// Columns of a design have different lengths.
    case raggedColumns(feature: String, expected: Int, found: Int)
    /// An outcome value is not 0 or 1.
    case outcomeNotBinary(row: Int, value: Double)
    /// An observation weight is negative, NaN or infinite.
    case invalidWeight(row: Int, value: Double)
    /// The outcome or weight vector length does not match the design.
    case lengthMismatch(what: String, expected: Int, found: Int)
    /// There is no observation with positive weight.
    case noData
    /// Every weighted observation has the same outcome, so the intercept would diverge.
    case constantOutcome(value: Int)
    /// `alpha` is negative, NaN or infinite.
    case invalidAlpha(Double)
    /// A penalty factor is negative, NaN or infinite, or there is the wrong number of them.
    case invalidPenaltyFactor(feature: String, value: Double)
    /// A coefficient without penalty has no unique value (a constant or all-zero column).
    case notIdentifiable(feature: String, reason: String)
    /// Unpenalized coefficients diverge: the data are (quasi-)completely separated.
    case separation(features: [String])
    /// The solver stopped before the KKT conditions held to the requested tolerance.
    case notConverged(iterations: Int, kktViolation: Double, tolerance: Double)
    /// A warm start does not match the problem's feature count.
    case warmStartMismatch(expected: Int, found: Int)
    /// Sparse columns that are not well formed (`feature` nil: the column starts themselves).
    case invalidSparseColumns(feature: String?, message: String)
    /// The computation needs the design's values densely and the design is held sparse.
    case needsDenseDesign(what: String, features: Int)

    public var description: String {
        switch self {
        case let .nonFiniteValue(feature, row, value):
            return "feature '\(feature)' has the non-finite value \(value) in row \(row); covariates must be finite numbers"
        case let .raggedColumns(feature, expected, found):
            return "feature '\(feature)' has \(found) values but the design has \(expected) rows"
        case let .outcomeNotBinary(row, value):
            return "outcome value \(value) in row \(row) is not 0 or 1"
        case let .invalidWeight(row, value):
            return "weight \(value) of row \(row) is not a finite number >= 0"
        case let .lengthMismatch(what, expected, found):
            return "\(what) has \(found) entries but the design has \(expected) rows"
        case .noData:
            return "no observation has positive weight: nothing to fit"
        case let .constantOutcome(value):
            return "the outcome is \(value) in every observation: a logistic model needs both 0s and 1s"
        case let .invalidAlpha(a):
            return "alpha must be a finite number >= 0, got \(a)"
        case let .invalidPenaltyFactor(feature, value):
            return "penalty factor \(value) for '\(feature)' must be a finite number >= 0"
        case let .notIdentifiable(feature, reason):
            return "the coefficient of '\(feature)' is not identifiable: \(reason); penalize it or drop the column"
        case let .separation(features):
            return
                "perfect or quasi-complete separation: the unpenalized coefficients of \(features.joined(separator: ", ")) diverge; use alpha > 0 or drop the separating columns"
        case let .notConverged(iterations, kkt, tol):
            return "the solver did not converge in \(iterations) iterations: KKT violation \(kkt) > tolerance \(tol)"
        case let .warmStartMismatch(expected, found):
            return "warm start has \(found) coefficients, the problem has \(expected)"
        case let .invalidSparseColumns(feature, message):
            return feature.map { "sparse column '\($0)': \(message)" } ?? "sparse columns: \(message)"
        case let .needsDenseDesign(what, features):
            return "\(what) needs a dense design; this one is held sparse (\(features) features): fit it with working sets, or drop to fewer features"
        }
    }
}
