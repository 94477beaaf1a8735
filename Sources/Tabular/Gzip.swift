import CZlib
import Foundation

/// gzip (RFC 1952) decompression, so `.csv.gz` files (and datasets uploaded compressed) are read
/// directly.
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// The decompressed bytes of a gzip stream (concatenated members included).
    /// - Throws: a ``TabularError`` naming `source` when the stream is damaged or truncated.
    public static func decompress(_ data: Data, source: String) throws -> Data {
        var stream = z_stream()
        // 15 window bits + 32: detect the gzip (or zlib) header.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TabularError(file: source, message: "cannot start gzip decompression (zlib)")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        output.reserveCapacity(min(data.count * 4, 1 << 30))
        let chunk = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            var offset = 0
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = UInt32(min(raw.count, Int(UInt32.max)))
            while true {
                stream.next_out = buffer
                stream.avail_out = UInt32(chunk)
                let status = inflate(&stream, Z_NO_FLUSH)
                output.append(buffer, count: chunk - Int(stream.avail_out))
                if status == Z_STREAM_END {
                    // Another member may follow (concatenated .gz files decompress to their concatenation).
                    offset = raw.count - Int(stream.avail_in)
                    let rest = raw.count - offset
                    if rest >= 2 && raw[offset] == 0x1f && raw[offset + 1] == 0x8b {
                        inflateReset(&stream)
                        continue
                    }
                    return
                }
                if status != Z_OK && !(status == Z_BUF_ERROR && stream.avail_out == 0) {
                    let why = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    let detail = status == Z_BUF_ERROR ? "the file ends before the compressed data does (truncated?)" : why
                    throw TabularError(file: source, message: "not a valid gzip file: \(detail)")
                }
                if stream.avail_in == 0 && stream.avail_out != 0 && status == Z_OK {
                    // All input consumed without the end marker.
                    let again = inflate(&stream, Z_FINISH)
                    if again == Z_STREAM_END { return }
                    throw TabularError(file: source, message: "not a valid gzip file: the file ends before the compressed data does (truncated?)")
                }
            }
        }
        return output
    }
}
