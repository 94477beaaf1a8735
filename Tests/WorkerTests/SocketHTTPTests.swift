import Foundation
import Glibc
import Synchronization
import Testing

@testable import Worker

/// A scripted HTTP server on loopback: each request gets the next canned response, written
/// byte for byte, then the connection is kept or closed as the script says.
final class ScriptedServer: Sendable {
    struct Reply: Sendable {
        let bytes: String
        let closeAfter: Bool
    }
    let port: UInt16
    let listener: Int32
    let replies: Mutex<[Reply]>
    let accepted = Mutex(0)
    let requests = Mutex<[String]>([])

    init(_ replies: [Reply]) throws {
        self.replies = Mutex(replies)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { throw ScriptError(message: "bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        Thread.detachNewThread { [self] in serve() }
    }

    struct ScriptError: Error { let message: String }

    func serve() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { return }
            accepted.withLock { $0 += 1 }
            Thread.detachNewThread { [self] in connection(c) }
        }
    }

    func connection(_ c: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // One request: the head, then Content-Length bytes of body.
            var headEnd: Int?
            while headEnd == nil {
                if let r = findCRLFCRLF(buffer) { headEnd = r; break }
                let n = read(c, &chunk, chunk.count)
                if n <= 0 { close(c); return }
                buffer += chunk[0..<n]
            }
            let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
            let length =
                head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            while buffer.count < headEnd! + 4 + length {
                let n = read(c, &chunk, chunk.count)
                if n <= 0 { close(c); return }
                buffer += chunk[0..<n]
            }
            requests.withLock { $0.append(head) }
            buffer.removeFirst(headEnd! + 4 + length)
            guard let reply = replies.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { close(c); return }
            let bytes = Array(reply.bytes.utf8)
            _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if reply.closeAfter { close(c); return }
        }
    }

    func findCRLFCRLF(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    /// Stops listening: later connections are refused (the descriptor is closed once, on deinit).
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { close(listener) }
}

@Suite("The worker's HTTP/1.1 socket client")
struct SocketHTTPTests {
    func client(_ server: ScriptedServer) -> SocketHTTPClient { SocketHTTPClient(host: "127.0.0.1", port: server.port, timeout: 5) }
    func text(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }

    @Test("Content-Length bodies on one kept-alive connection; the request carries method, target, headers and body")
    func keepAlive() async throws {
        let server = try ScriptedServer([
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", closeAfter: false),
            .init(bytes: "HTTP/1.1 404 Not Found\r\ncontent-length: 17\r\n\r\n{\"error\":\"nope\"}\n", closeAfter: false),
        ])
        let c = client(server)
        let a = try await c.send(method: "POST", target: "/v1/lease?x=1", headers: [("Authorization", "Bearer t")], body: Data("{}".utf8))
        #expect(a.status == 200 && text(a.body) == "hello")
        let b = try await c.send(method: "GET", target: "/v1/runs/r", headers: [], body: nil)
        #expect(b.status == 404 && text(b.body) == "{\"error\":\"nope\"}\n")
        #expect(server.accepted.withLock { $0 } == 1, "the second request reused the connection")
        let heads = server.requests.withLock { $0 }
        #expect(
            heads[0].hasPrefix("POST /v1/lease?x=1 HTTP/1.1\r\n") && heads[0].contains("Authorization: Bearer t")
                && heads[0].contains("Content-Length: 2"))
    }

    @Test("chunked bodies, with chunk extensions and trailers, are reassembled; the connection stays usable")
    func chunked() async throws {
        let server = try ScriptedServer([
            .init(
                bytes:
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\nY-Trailer: 2\r\n\r\n",
                closeAfter: false),
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: false),
        ])
        let c = client(server)
        let a = try await c.send(method: "GET", target: "/", headers: [], body: nil)
        #expect(text(a.body) == "Wikipedia in \r\n\r\nchunks.")
        let b = try await c.send(method: "GET", target: "/", headers: [], body: nil)
        #expect(text(b.body) == "ok")
        #expect(server.accepted.withLock { $0 } == 1)
    }

    @Test("a kept connection the server closed meanwhile is replaced transparently; Connection: close and bodies to EOF are honoured")
    func staleAndClose() async throws {
        let server = try ScriptedServer([
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", closeAfter: true),  // server drops the kept connection
            .init(bytes: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nb", closeAfter: true),
            .init(bytes: "HTTP/1.0 200 OK\r\n\r\nuntil the end", closeAfter: true),
        ])
        let c = client(server)
        #expect(text(try await c.send(method: "GET", target: "/", headers: [], body: nil).body) == "a")
        try await Task.sleep(for: .milliseconds(50))
        #expect(text(try await c.send(method: "GET", target: "/", headers: [], body: nil).body) == "b")
        #expect(text(try await c.send(method: "GET", target: "/", headers: [], body: nil).body) == "until the end")
        #expect(server.accepted.withLock { $0 } == 3)
    }

    @Test("refused connections, garbage and truncated responses are errors that say what happened")
    func errors() async throws {
        let closed = try ScriptedServer([])
        let port = closed.port
        closed.stop()
        do {
            _ = try await SocketHTTPClient(host: "127.0.0.1", port: port, timeout: 2).send(method: "GET", target: "/", headers: [], body: nil)
            Issue.record("a refused connection must throw")
        } catch {
            #expect("\(error)".contains("cannot connect to 127.0.0.1:\(port)"), "\(error)")
        }
        let garbage = try ScriptedServer([.init(bytes: "SMTP ready\r\n\r\n", closeAfter: true)])
        await #expect(throws: SocketHTTPClient.TransportError.self) {
            try await client(garbage).send(method: "GET", target: "/", headers: [], body: nil)
        }
        let truncated = try ScriptedServer([.init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", closeAfter: true)])
        do {
            _ = try await client(truncated).send(method: "GET", target: "/", headers: [], body: nil)
            Issue.record("a truncated body must throw")
        } catch {
            #expect("\(error)".contains("closed the connection mid-response"), "\(error)")
        }
    }
}
