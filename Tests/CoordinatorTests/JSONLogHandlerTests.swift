import Foundation
import Logging
import Synchronization
import Testing

@testable import Coordinator

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let text = Mutex<[String]>([])
    }

    @Test("one JSON object per line: time, level, logger, message and every metadata key; escapes; the level filters")
    func lines() throws {
        let lines = Lines()
        var logger = Logger(label: "lassoboot.test") { label in
            var h = JSONLogHandler(label: label) { line in lines.text.withLock { $0.append(line) } }
            h.logLevel = .info
            return h
        }
        logger[metadataKey: "worker"] = "w1"
        logger.debug("not shown")
        logger.warning("3 lease(s) expired", metadata: ["run": "run-1", "task": "bootstrap/0-25", "message": "clash", "odd": "a\"b\\c\nd\u{1}"])
        let out = lines.text.withLock { $0 }
        #expect(out.count == 1)
        let line = try #require(out.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "warning" && object["logger"] == "lassoboot.test" && object["message"] == "3 lease(s) expired")
        #expect(object["run"] == "run-1" && object["task"] == "bootstrap/0-25" && object["worker"] == "w1")
        #expect(object["meta.message"] == "clash" && object["odd"] == "a\"b\\c\nd\u{1}")
        let time = try #require(object["time"])
        #expect(ISO8601DateFormatter().date(from: time.replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)) != nil, "\(time)")
    }
}
