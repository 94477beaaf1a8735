import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 client over blocking POSIX sockets, for `http://` coordinators.
///
/// Foundation's URLSession on Linux (libcurl under dispatch sources) spins while a request
/// waits for its answer: a worker holding a lease long poll used most of a core doing nothing,
/// on the cores its tasks need. Here each request blocks one dispatch thread in `read(2)`
/// instead, and connections are kept alive and reused. `https://` still goes through
/// URLSession.
final class SocketHTTPClient: Sendable {
    let host: String
    let port: UInt16
    let timeout: Double
    /// Idle keep-alive connections.
    let idle = Mutex<[Int32]>([])

    init(host: String, port: UInt16, timeout: Double) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    deinit {
        for fd in idle.withLock({ $0 }) { close(fd) }
    }

    struct TransportError: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends a request (`target` is the path and query); returns the status and body.
    func send(method: String, target: String, headers: [(String, String)], body: Data?) async throws -> (status: Int, body: Data) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try self.blockingSend(method: method, target: target, headers: headers, body: body) })
            }
        }
    }

    func blockingSend(method: String, target: String, headers: [(String, String)], body: Data?) throws -> (status: Int, body: Data) {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" } else if method == "POST" || method == "PUT" { head += "Content-Length: 0\r\n" }
        head += "\r\n"
        var request = Data(head.utf8)
        if let body { request.append(body) }
        // A reused connection may have been closed by the server meanwhile: then once more on a fresh one.
        if let fd = idle.withLock({ $0.popLast() }) {
            do {
                return try exchange(fd, request, method: method)
            } catch let e as StaleConnection {
                _ = e
            }
        }
        let fd = try connectSocket()
        do {
            return try exchange(fd, request, method: method)
        } catch is StaleConnection {
            throw TransportError(description: "the coordinator closed the connection")
        }
    }

    struct StaleConnection: Error {}

    /// Writes the request and reads one response on `fd` (closing it, or keeping it for reuse).
    func exchange(_ fd: Int32, _ request: Data, method: String) throws -> (status: Int, body: Data) {
        var keep = false
        defer { if keep { idle.withLock { $0.append(fd) } } else { close(fd) } }
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                #if canImport(Glibc)
                let n = Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))  // EPIPE, not SIGPIPE
                #else
                let n = write(fd, raw.baseAddress! + sent, raw.count - sent)
                #endif
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw n < 0 && (errno == EPIPE || errno == ECONNRESET) ? StaleConnection() as Error : transport("write") }
                sent += n
            }
        }
        var reader = Reader(fd: fd)
        guard let headEnd = try reader.fill(until: { $0.range(of: Data([13, 10, 13, 10])) }) else {
            if reader.buffer.isEmpty { throw StaleConnection() }
            throw TransportError(description: "incomplete response from the coordinator")
        }
        let head = String(decoding: reader.buffer[reader.buffer.startIndex..<headEnd.lowerBound], as: UTF8.self)
        reader.consume(upTo: headEnd.upperBound)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let first = lines.first, first.hasPrefix("HTTP/1."), first.count >= 12, let status = Int(first.dropFirst(9).prefix(3)) else {
            throw TransportError(description: "bad response from the coordinator: \(head.prefix(100))")
        }
        var length: Int?
        var chunked = false
        var close = first.hasPrefix("HTTP/1.0")
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-length": length = Int(value)
            case "transfer-encoding": chunked = value.lowercased().contains("chunked")
            case "connection": close = close || value.lowercased() == "close"
            default: break
            }
        }
        var body = Data()
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            // No body.
        } else if chunked {
            while true {
                guard let lineEnd = try reader.fill(until: { $0.range(of: Data([13, 10])) }) else { throw transport("read") }
                let sizeText = String(decoding: reader.buffer[reader.buffer.startIndex..<lineEnd.lowerBound], as: UTF8.self)
                reader.consume(upTo: lineEnd.upperBound)
                guard let size = Int(sizeText.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "", radix: 16) else {
                    throw TransportError(description: "bad chunk size from the coordinator")
                }
                if size == 0 {
                    // Trailer lines, if any, then an empty line.
                    while true {
                        guard let end = try reader.fill(until: { $0.range(of: Data([13, 10])) }) else { throw transport("read") }
                        let empty = end.lowerBound == reader.buffer.startIndex
                        reader.consume(upTo: end.upperBound)
                        if empty { break }
                    }
                    break
                }
                try reader.fill(count: size + 2)
                body.append(reader.buffer[reader.buffer.startIndex..<(reader.buffer.startIndex + size)])
                reader.consume(upTo: reader.buffer.startIndex + size + 2)
            }
        } else if let length {
            try reader.fill(count: length)
            body = Data(reader.buffer[reader.buffer.startIndex..<(reader.buffer.startIndex + length)])
            reader.consume(upTo: reader.buffer.startIndex + length)
        } else {
            try reader.fillToEOF()
            body = reader.buffer
            close = true
        }
        keep = !close && reader.buffer.isEmpty
        return (status, body)
    }

    func transport(_ what: String) -> TransportError {
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK { return TransportError(description: "timed out after \(Int(timeout)) s") }
        return TransportError(description: "\(what): \(String(cString: strerror(code)))")
    }

    /// Reads from a socket into a buffer.
    struct Reader {
        let fd: Int32
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)

        init(fd: Int32) { self.fd = fd }

        /// Reads more bytes; false at EOF.
        mutating func more() throws -> Bool {
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    let code = errno
                    if code == ECONNRESET { return false }
                    throw TransportError(
                        description: code == EAGAIN || code == EWOULDBLOCK
                            ? "timed out waiting for the coordinator"
                            : "read: \(String(cString: strerror(code)))")
                }
                if n == 0 { return false }
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
        }

        /// Reads until `find` finds something in the buffer (its result), or nil at EOF.
        mutating func fill(until find: (Data) -> Range<Data.Index>?) throws -> Range<Data.Index>? {
            while true {
                if let r = find(buffer) { return r }
                if try !more() { return nil }
            }
        }

        mutating func fill(count: Int) throws {
            while buffer.count < count {
                if try !more() { throw TransportError(description: "the coordinator closed the connection mid-response") }
            }
        }

        mutating func fillToEOF() throws {
            while try more() {}
        }

        mutating func consume(upTo index: Data.Index) {
            buffer = Data(buffer[index...])
        }
    }

    /// A connected TCP socket with send/receive timeouts and TCP_NODELAY.
    func connectSocket() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw TransportError(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            entry = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            var tv = timeval()
            tv.tv_sec = .init(Int(timeout))
            tv.tv_usec = .init(Int(timeout.truncatingRemainder(dividingBy: 1) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        throw TransportError(description: "cannot connect to \(host):\(port): \(lastError)")
    }
}
