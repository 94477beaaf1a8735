import CoordinatorAPI
import Foundation
import Plan
import Testing

/// The hand-written JSON of the coordinator's hot path against Foundation's JSONEncoder/JSONDecoder.
@Suite("Fast JSON: byte-identical to JSONEncoder, same values as JSONDecoder")
struct FastJSONTests {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static let doubles: [Double] = [
        0, -0.0, 1, 2, -3.25, 0.1, 0.30000000000000004, 1e21, 1e22, 1e-7, .leastNonzeroMagnitude, 1.5e300, 12345678.9,
        1e15, 1e16, 100, -1e-5, .pi, 123456789012345680, Double.greatestFiniteMagnitude, -Double.leastNormalMagnitude,
    ]
    static let strings = ["", "plain", "a/b", "quote \" and \\ backslash", "line\nbreak\ttab\r\u{8}\u{c}", "ctrl \u{1}\u{1f}", "é ü 😀 \u{7f}"]

    static func results() -> [TaskResult] {
        let fits: [FitOutcome] = [.coefficients(doubles), .failed("no convergence / \"x\""), .coefficients([])]
        return [
            .cv(scores: [0.5, nil, 1e-300, -0.0], failures: [nil, "boom", nil, "ü/\n"], heldOutWeight: 17),
            .estimate(.coefficients([1, -2.5, 1e-9]), kktViolation: 3.2e-12, iterations: 7),
            .estimate(.failed("singular"), kktViolation: 0, iterations: 0),
            .bootstrap(fits: [fits, [fits[0], fits[0], fits[1]]], chosenAlphas: nil),
            .bootstrap(fits: [[fits[0]]], chosenAlphas: [[0.1, 0.01], [2]]),
            .bootstrap(fits: [[fits[0], fits[1]]], chosenAlphas: nil, debiased: [[fits[1], fits[0]]]),
            .bootstrap(fits: [[fits[2]]], chosenAlphas: [[0.5]], debiased: [[.failed("newtonNotConverged")]]),
            .jackknife(fits: fits),
            .jackknife(fits: []),
            .stability(selected: [[[0, 3], nil], [[], [5, 12]]]),
            .stability(selected: []),
        ]
    }

    static let keys: [TaskKey] = [
        .cv(outcome: 1, fold: 4), .estimate(outcome: 0), .bootstrap(start: 0, end: 25),
        .jackknife(outcome: 1, start: 100, end: 150), .stability(start: 10, end: 15),
    ]

    @Test("results, keys, submissions and lease responses are written exactly as JSONEncoder writes them")
    func writerMatchesEncoder() throws {
        for r in Self.results() {
            #expect(try r.canonicalJSON() == Self.encoder.encode(r))
        }
        for k in Self.keys {
            #expect(Data(k.jsonText.utf8) == (try Self.encoder.encode(k)))
        }
        for (i, s) in Self.strings.enumerated() {
            let sub = Wire.Submission(
                worker: s, run: "run-\(i)", key: Self.keys[i % 4], lease: "L\(i)", dataset: "abc", result: Self.results()[i % 7],
                error: i % 2 == 0 ? s : nil, released: i % 3 == 0 ? true : nil, started: i % 2 == 1 ? [s, "L9"] : nil)
            #expect(try sub.jsonBytes() == Self.encoder.encode(sub), "\(s)")
        }
        let tasks = Self.keys.enumerated().map { i, k in
            Wire.LeasedTask(run: "r/\(i)", key: k, lease: "L-\(i)", dataset: "d", input: i % 2 == 0 ? PhaseTwoInput(alphas: [0.5, 1e-3]) : nil)
        }
        #expect(try Wire.LeaseResponse(tasks: tasks).jsonBytes() == Self.encoder.encode(Wire.LeaseResponse(tasks: tasks)))
        #expect(try Wire.LeaseResponse(tasks: []).jsonBytes() == Self.encoder.encode(Wire.LeaseResponse(tasks: [])))
        for running in [[], ["run-1-a", "r\"2"]] {
            let r = Wire.LeaseResponse(tasks: tasks, running: running)
            #expect(try r.jsonBytes() == Self.encoder.encode(r))
            #expect(Wire.LeaseResponse.fastDecode(try r.jsonBytes())?.running == running)
        }
        #expect(throws: (any Error).self) { try TaskResult.estimate(.coefficients([.nan]), kktViolation: 0, iterations: 1).canonicalJSON() }
    }

    @Test("the reader gives JSONDecoder's values, bit for bit, for what workers send")
    func readerMatchesDecoder() throws {
        for (i, r) in Self.results().enumerated() {
            let sub = Wire.Submission(
                worker: Self.strings[i % Self.strings.count], run: "r", key: Self.keys[i % 4], lease: "L\(i)", dataset: "h",
                result: r, started: i % 2 == 0 ? ["L1", "L2"] : nil)
            for bytes in [try Self.encoder.encode(sub), try JSONEncoder().encode(sub)] {
                let fast = try #require(Wire.Submission.fastDecode(bytes))
                let slow = try JSONDecoder().decode(Wire.Submission.self, from: bytes)
                #expect(try fast.jsonBytes() == slow.jsonBytes())  // same bytes: same bits (-0, 1e-300...)
                #expect(fast.result == slow.result && fast.key == slow.key && fast.worker == slow.worker && fast.started == slow.started)
                #expect(try TaskResult.fastDecode(r.canonicalJSON())?.canonicalJSON() == r.canonicalJSON())
            }
        }
        let lease = Data(
            #" { "worker" : "w\u00e9\/\ud83d\ude00", "host": "h", "threads": 2, "max": 16, "wait": 0.5, "extra": [1, {"a": null}] } "#.utf8)
        let fast = try #require(Wire.LeaseRequest.fastDecode(lease))
        let slow = try JSONDecoder().decode(Wire.LeaseRequest.self, from: lease)
        #expect(fast.worker == slow.worker && fast.max == 16 && fast.wait == 0.5 && fast.started == nil)
        // The protocol version: absent stays absent (served as before), present is read, both ways alike.
        #expect(fast.protocolVersion == nil && slow.protocolVersion == nil)
        let versioned = Data(#"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0, "protocolVersion": 7}"#.utf8)
        #expect(Wire.LeaseRequest.fastDecode(versioned)?.protocolVersion == 7)
        #expect(try JSONDecoder().decode(Wire.LeaseRequest.self, from: versioned).protocolVersion == 7)
        #expect(
            Wire.LeaseRequest.fastDecode(Data(#"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0, "protocolVersion": "3"}"#.utf8))
                == nil)
        let response = Wire.LeaseResponse(tasks: [
            Wire.LeasedTask(
                run: "r", key: .bootstrap(start: 0, end: 1), lease: "L", dataset: "d",
                input: PhaseTwoInput(alphas: [0.1]))
        ])
        #expect(Wire.LeaseResponse.fastDecode(try Self.encoder.encode(response))?.tasks == response.tasks)
    }

    @Test("anything unusual is left to JSONDecoder (nil), never read differently")
    func readerRefuses() {
        let good = #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0}"#
        #expect(Wire.LeaseRequest.fastDecode(Data(good.utf8)) != nil)
        for bad in [
            #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0} x"#,  // trailing bytes
            #"{"worker": "w", "worker": "v", "host": "h", "threads": 1, "max": 1, "wait": 0}"#,  // duplicate key
            #"{"worker": "w", "host": "h", "threads": 1.0, "max": 1, "wait": 0}"#,  // not an integer literal
            #"{"worker": "w", "host": "h", "threads": 01, "max": 1, "wait": 0}"#,  // leading zero
            #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 1e999}"#,  // overflow
            #"{"worker": "w", "host": "h", "threads": 1, "max": 1}"#,  // missing key
            #"{"worker": null, "host": "h", "threads": 1, "max": 1, "wait": 0}"#,  // null
            #"{"worker": "a\qb", "host": "h", "threads": 1, "max": 1, "wait": 0}"#,  // bad escape
            #"{"worker": "\ud800", "host": "h", "threads": 1, "max": 1, "wait": 0}"#,  // lone surrogate
            "{\"worker\": \"a\u{1}\", \"host\": \"h\", \"threads\": 1, \"max\": 1, \"wait\": 0}",  // raw control character
            #"{"worker": "w", "host": "h", "threads": 1, "max": 1, "wait": 0, "started": "L1"}"#,  // wrong type
            "", "[]", "{",
        ] {
            #expect(Wire.LeaseRequest.fastDecode(Data(bad.utf8)) == nil, "\(bad)")
        }
        #expect(Wire.LeaseRequest.fastDecode(Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])) == nil)  // invalid UTF-8
        // An enum must have exactly one case key.
        let twoCases =
            #"{"dataset": "d", "key": {"cv": {"outcome": 0, "fold": 0}, "estimate": {"outcome": 0}}, "lease": "L", "run": "r", "worker": "w"}"#
        #expect(Wire.Submission.fastDecode(Data(twoCases.utf8)) == nil)
    }
}
