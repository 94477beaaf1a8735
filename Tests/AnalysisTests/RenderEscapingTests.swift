import Analysis
import Testing

/// Names from a job spec or a CSV header reach spreadsheets, Markdown and terminals: formula
/// prefixes and control characters are neutralised, ordinary names are untouched.
@Suite("Render: hostile names")
struct RenderEscapingTests {
    @Test("CSV fields starting with a formula character get a leading quote (OWASP); others are unchanged")
    func csvFormulas() {
        #expect(csvField("age") == "age")
        #expect(csvField("gender: Female") == "gender: Female")
        #expect(csvField("a,b") == "\"a,b\"")
        #expect(csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(csvField("+1") == "'+1")
        #expect(csvField("-2+3") == "'-2+3")
        #expect(csvField("@SUM(A1)") == "'@SUM(A1)")
        #expect(csvField("\tx") == "'\tx")
        #expect(csvField("\rx") == "\"'\rx\"")
        #expect(csvField("a=b") == "a=b")
    }

    @Test("terminal text shows control characters and escape sequences as \\xHH")
    func terminal() {
        #expect(terminalSafe("age (years)") == "age (years)")
        #expect(terminalSafe("x\u{1B}[2J\u{07}y") == "x\\x1B[2J\\x07y")
        #expect(terminalSafe("a\nb\u{9B}c\u{7F}") == "a\\x0Ab\\x9Bc\\x7F")
        #expect(terminalSafe("Zürich ✓") == "Zürich ✓")
    }

    @Test("Markdown cells escape pipes, leading formula characters and controls")
    func markdown() {
        #expect(markdownText("age") == "age")
        #expect(markdownText("a|b") == "a\\|b")
        #expect(markdownText("=cmd") == "\\=cmd")
        #expect(markdownText("-x") == "\\-x")
        #expect(markdownText("e\u{1B}]0;t\u{07}") == "e\\x1B]0;t\\x07")
    }
}
