import Analysis
import CoordinatorAPI
import Dispatch
import Foundation

// MARK: - tiny HTTP/1.1 client over a socket

struct HTTPTarget {
    let host: String
    let port: UInt16
    let token: String

    init(url: String, token: String) throws {
        guard let u = URL(string: url), u.scheme == "http", let h = u.host, let p = u.port else {
            throw UsageError(description: "--coordinator must be http://IPv4:PORT, got '\(url)'")
        }
        host = h == "localhost" ? "127.0.0.1" : h
        port = UInt16(p)
        self.token = token
    }

    /// A connected TCP socket (blocking), TCP_NODELAY set.
    func connectSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw UsageError(description: "socket(): errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            throw UsageError(description: "--coordinator host must be an IPv4 address, got '\(host)'")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw UsageError(description: "cannot connect to \(host):\(port): errno \(errno)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    func request(_ method: String, _ path: String, body: [UInt8] = [], contentType: String = "application/json") -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(token)\r\n"
        if !body.isEmpty || method == "POST" || method == "PUT" {
            head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        }
        return Array((head + "\r\n").utf8) + body
    }

    /// One blocking request on a fresh connection (setup and checks, not timed).
    func call(_ method: String, _ path: String, body: [UInt8] = [], contentType: String = "application/json") throws -> (Int, [UInt8]) {
        let fd = try connectSocket()
        defer { close(fd) }
        let bytes = request(method, path, body: body, contentType: contentType)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw UsageError(description: "write to the coordinator failed: errno \(errno)") }
            sent += n
        }
        var parser = ResponseParser()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let r = try parser.next() { return r }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw UsageError(description: "the coordinator closed the connection during \(method) \(path)") }
            parser.buffer += chunk[0..<n]
        }
    }
}

/// Incremental parser of HTTP/1.1 responses with Content-Length bodies.
struct ResponseParser {
    var buffer: [UInt8] = []

    /// The next complete response (status, body), removed from the buffer; nil if incomplete.
    mutating func next() throws -> (Int, [UInt8])? {
        guard let end = Self.find(buffer, [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("HTTP/1."), first.count >= 12,
            let status = Int(first.dropFirst(9).prefix(3))
        else {
            throw UsageError(description: "bad HTTP response head: \(head.prefix(200))")
        }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased()
            if name == "content-length" { length = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0 }
            if name == "transfer-encoding" { throw UsageError(description: "chunked responses are not supported") }
        }
        let start = end + 4
        guard buffer.count >= start + length else { return nil }
        let body = Array(buffer[start..<(start + length)])
        buffer.removeFirst(start + length)
        return (status, body)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int = 0) -> Int? {
        guard hay.count >= needle.count + from else { return nil }
        var i = from
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == needle[0] {
                var j = 1
                while j < needle.count && hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
