import Foundation
import Store
import Testing

/// Datasets larger than one SQLite blob (10^9 bytes) are stored in pieces; uploads arrive in
/// pieces and become a dataset only when finished.
@Suite("Store: datasets in pieces")
struct DatasetPiecesTests {
    /// Bytes that differ in every piece, so a piece out of order or lost changes the result.
    static func bytes(_ count: Int) -> Data {
        var out = [UInt8](repeating: 0, count: count)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x)
        }
        return Data(out)
    }

    @Test("a dataset of several pieces reads back whole and is deleted with its pieces", arguments: StoreKind.allCases)
    func largeDataset(kind: StoreKind) throws {
        let (store, path) = try makeStore(kind)
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        let big = Self.bytes(2 * SQLiteStore.pieceBytes + 12_345)
        #expect(try store.putDataset(hash: "big", bytes: big))
        #expect(try !store.putDataset(hash: "big", bytes: big))
        #expect(try store.dataset(hash: "big") == big)
        #expect(try store.deleteDataset(hash: "big"))
        #expect(try store.dataset(hash: "big") == nil)
        #expect(try store.datasetHashes().isEmpty)
    }

    @Test("an upload is a dataset only once finished; a duplicate or abandoned upload leaves nothing", arguments: StoreKind.allCases)
    func uploads(kind: StoreKind) throws {
        let (store, path) = try makeStore(kind)
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        let data = Self.bytes(100_000)
        let pieces = stride(from: 0, to: data.count, by: 30_000).map { data[$0..<min($0 + 30_000, data.count)] }
        for (i, p) in pieces.enumerated().reversed() { try store.putUploadPiece(upload: "u1", index: i, bytes: Data(p)) }
        #expect(try store.datasetHashes().isEmpty, "pieces alone are not a dataset")
        #expect(try store.finishUpload(upload: "u1", hash: "h", size: data.count))
        #expect(try store.dataset(hash: "h") == data, "pieces are joined in index order, whatever order they came in")
        try store.putUploadPiece(upload: "u2", index: 0, bytes: data)
        #expect(try !store.finishUpload(upload: "u2", hash: "h", size: data.count), "already stored")
        try store.putUploadPiece(upload: "u3", index: 0, bytes: Data("x".utf8))
        try store.abandonUpload(upload: "u3")
        #expect(try store.datasetHashes() == ["h"])
        #expect(try store.dataset(hash: "h") == data)
        #expect(try store.finishUpload(upload: "empty", hash: "e", size: 0))
        #expect(try store.dataset(hash: "e") == Data())
    }

    @Test("SQLite: a dataset in pieces survives reopening; pieces of an upload cut off by a crash are dropped at start")
    func reopen() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-store-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let big = Self.bytes(SQLiteStore.pieceBytes + 7)
        do {
            let store = try SQLiteStore(path: path)
            #expect(try store.putDataset(hash: "big", bytes: big))
            try store.putUploadPiece(upload: "cut", index: 0, bytes: Self.bytes(1000))
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.dataset(hash: "big") == big)
        #expect(try store.datasetHashes() == ["big"])
        // The orphaned piece is gone: filing the cut-off upload now finds none of its bytes.
        #expect(try store.finishUpload(upload: "cut", hash: "cut", size: 1000))
        #expect(throws: StoreError.self) { try store.dataset(hash: "cut") }
    }
}
