import Foundation
import Testing

/// `lassoboot --version` names the version and the git commit the binary was built from.
@Suite("lassoboot --version")
struct VersionTests {
    @Test("prints the version and this checkout's commit (marked -dirty when sources differ from it)")
    func versionAndCommit() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0)
        let line = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", CLI.repoRoot.path, "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        try git.run()
        let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        git.waitUntilExit()
        guard git.terminationStatus == 0, !head.isEmpty else {
            #expect(line == "0.1.0 (commit unknown)", "outside a git checkout: \(line)")
            return
        }
        #expect(line == "0.1.0 (commit \(head))" || line == "0.1.0 (commit \(head)-dirty)", "\(line) vs HEAD \(head)")
    }
}
