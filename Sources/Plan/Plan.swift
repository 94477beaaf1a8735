// The task plan: the names of the units of work a run is split into and the shape of their
// results. Shared by the scheduler, the store, the wire protocol and the executor, so none of
// them needs the others to speak about tasks.

/// The stable name of one unit of work. A run's results are the same whatever order tasks
/// run in, because each is a pure function of (spec, data, key) and aggregation sorts by key.
public enum TaskKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// Phase 1: the alpha path of one outcome on the training part of one fold, scored on the fold.
    case cv(outcome: Int, fold: Int)
    /// Phase 2: the full-data fit of one outcome at its chosen alpha (the point estimate).
    case estimate(outcome: Int)
    /// Phase 2: bootstrap resamples `start ..< end` (paired: every outcome on each resample).
    case bootstrap(start: Int, end: Int)
    /// Phase 2: delete-one-row jackknife fits of one outcome for cells `start ..< end` (BCa).
    case jackknife(outcome: Int, start: Int, end: Int)
    /// Phase 1: stability-selection pairs `start ..< end` (both halves, every outcome). Phase 1
    /// because it does not depend on the chosen alpha.
    case stability(start: Int, end: Int)
    /// Phase 2: the nodewise regressions of features `start ..< end` of one outcome at its
    /// chosen alpha (the desparsified lasso, p >= n).
    case nodewise(outcome: Int, start: Int, end: Int)

    public var phase: Int {
        switch self {
        case .cv, .stability: return 1
        default: return 2
        }
    }

    /// Whether each fit of the result carries coefficients whose KKT certificate the coordinator
    /// checks (CV scores and stability selections are checked by recomputation instead).
    public var isCertifiable: Bool { phase == 2 }

    private var order: (Int, Int, Int, Int) {
        switch self {
        case let .cv(o, f): return (0, o, f, 0)
        case let .estimate(o): return (1, o, 0, 0)
        case let .bootstrap(s, e): return (2, s, e, 0)
        case let .jackknife(o, s, e): return (3, o, s, e)
        case let .stability(s, e): return (4, s, e, 0)
        case let .nodewise(o, s, e): return (5, o, s, e)
        }
    }

    public static func < (a: TaskKey, b: TaskKey) -> Bool { a.order < b.order }

    public var description: String {
        switch self {
        case let .cv(o, f): return "cv/o\(o)/f\(f)"
        case let .estimate(o): return "estimate/o\(o)"
        case let .bootstrap(s, e): return "bootstrap/\(s)-\(e)"
        case let .jackknife(o, s, e): return "jackknife/o\(o)/\(s)-\(e)"
        case let .stability(s, e): return "stability/\(s)-\(e)"
        case let .nodewise(o, s, e): return "nodewise/o\(o)/\(s)-\(e)"
        }
    }
}

/// What phase 2 needs from phase 1: the alpha chosen for each outcome.
public struct PhaseTwoInput: Codable, Sendable, Equatable {
    public let alphas: [Double]
    public init(alphas: [Double]) { self.alphas = alphas }
}

/// The outcome of one fit inside a task: coefficients (intercept first) or why it failed.
public enum FitOutcome: Codable, Sendable, Equatable {
    case coefficients([Double])
    case failed(String)

    public var values: [Double]? {
        if case let .coefficients(c) = self { return c }
        return nil
    }
}

/// The result of one task.
public enum TaskResult: Codable, Sendable, Equatable {
    /// Held-out score per alpha of the outcome's grid (`nil` where the fit failed), and the held-out weight.
    case cv(scores: [Double?], failures: [String?], heldOutWeight: Double)
    case estimate(FitOutcome, kktViolation: Double, iterations: Int)
    /// Per resample (in order), per outcome; in nested mode also the alpha chosen per outcome.
    /// With debiased intervals, also each resample's debiased estimate per outcome (the
    /// unpenalized maximum-likelihood fit, or `newtonSteps` Newton steps from the resample's
    /// lasso fit), or why it failed (``Lasso/DebiasFailure/flag``).
    case bootstrap(fits: [[FitOutcome]], chosenAlphas: [[Double]]?, debiased: [[FitOutcome]]? = nil)
    /// Per jackknife cell (in order): coefficients, or a failure cause.
    case jackknife(fits: [FitOutcome])
    /// Per half-sample (pair `start` first half, second half, pair `start + 1` ...), per
    /// outcome: the penalized features selected (ascending feature indices, at most q), or
    /// `nil` where the path failed on that half.
    case stability(selected: [[[Int]?]])
    /// The nodewise lambda grid and, per feature (in order), for each lambda the pooled-CV
    /// held-out error and the full-data projection (numerator, denominator, model variance,
    /// sandwich variance): five numbers per lambda. Empty rows and grid: no lasso fit to project at.
    case nodewise(lambdas: [Double], features: [[Double]])
}
