import Foundation
import Tabular
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    @Test("NIST FIPS 180-4 example vectors")
    func vectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("incremental updates equal one-shot hashing")
    func incremental() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 63, 64, 65, 500, 999] {
            var h = SHA256()
            h.update(bytes[..<split])
            h.update(bytes[split...])
            #expect(
                h.finalize()
                    == {
                        var g = SHA256(); g.update(bytes); return g.finalize()
                    }())
        }
    }

    @Test("a file hashed in blocks equals its bytes hashed at once; an unreadable path is nil")
    func fileInBlocks() throws {
        // 2.5 MiB: blocks of 1 MiB and a partial one.
        let bytes = (0..<(5 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString).bin")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(SHA256.hex(fileAt: url.path) == SHA256.hex(bytes))
        #expect(SHA256.hex(fileAt: url.path + ".absent") == nil)
    }

    static let ctdc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/madiforman_CTDC_analysis_final_data.csv").path

    @Test(
        "the shared CTDC file has the hash SOURCES.md records",
        .enabled(if: FileManager.default.fileExists(atPath: ctdc), "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent"))
    func sharedData() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.ctdc))
        #expect(SHA256.hex(data) == "de8cfc90919eecee5cb962a4fa1d47d7ef1f3495657ef92b3a6ae50659185426")
    }
}
