import CoordinatorAPI
import Foundation
import Glibc
import Synchronization
import Testing

@testable import CoordinatorHTTP

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

@Suite("The coordinator client over HTTP (async-http-client)")
struct HTTPClientTests {
    func client(_ server: ScriptedServer, timeout: Double = 5) -> HTTPCoordinatorClient {
        HTTPCoordinatorClient(base: URL(string: "http://127.0.0.1:\(server.port)")!, token: "t", timeout: timeout)
    }
    func text(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }
    func head(_ server: ScriptedServer, _ i: Int) -> String { server.requests.withLock { $0[i] }.lowercased() }

    @Test("one kept-alive connection; requests carry method, path, query, token, content type and body; 404 is an error unless accepted")
    func keepAlive() async throws {
        let server = try ScriptedServer([
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", closeAfter: false),
            .init(bytes: "HTTP/1.1 404 Not Found\r\ncontent-length: 17\r\n\r\n{\"error\":\"nope\"}\n", closeAfter: false),
            .init(bytes: "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", closeAfter: false),
        ])
        let c = client(server)
        let a = try await c.send(.POST, "v1/lease", body: Data("{}".utf8), query: [("x", "a b&c")])
        #expect(a.status == 200 && text(a.body) == "hello")
        // The pool takes a connection back asynchronously after the response: a request that starts
        // at once may find it still busy (seen on a loaded 2-core machine). A pause stands for the
        // work a worker does between requests.
        try await Task.sleep(for: .milliseconds(100))
        do {
            _ = try await c.send(.GET, "v1/runs/r")
            Issue.record("a 404 must throw")
        } catch let ClientError.http(status, message) {
            #expect(status == 404 && message == "nope")
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await c.hasDataset("abc") == false)
        // Three requests on three connections would mean no reuse.
        #expect(server.accepted.withLock { $0 } < 3, "connections are kept alive and reused")
        let first = head(server, 0)
        #expect(first.hasPrefix("post /v1/lease?x=a%20b%26c http/1.1\r\n"), "\(first)")
        #expect(first.contains("authorization: bearer t") && first.contains("content-length: 2") && first.contains("content-type: application/json"))
        #expect(head(server, 2).hasPrefix("head /v1/datasets/abc http/1.1"))
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
        #expect(text(try await c.send(.GET, "").body) == "Wikipedia in \r\n\r\nchunks.")
        #expect(text(try await c.send(.GET, "").body) == "ok")
    }

    @Test("a kept connection the server closed meanwhile is replaced; Connection: close and bodies to EOF are honoured")
    func staleAndClose() async throws {
        let server = try ScriptedServer([
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", closeAfter: true),  // server drops the kept connection
            .init(bytes: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nb", closeAfter: true),
            .init(bytes: "HTTP/1.0 200 OK\r\n\r\nuntil the end", closeAfter: true),
        ])
        let c = client(server)
        #expect(text(try await c.send(.GET, "").body) == "a")
        try await Task.sleep(for: .milliseconds(50))
        #expect(text(try await c.send(.GET, "").body) == "b")
        #expect(text(try await c.send(.GET, "").body) == "until the end")
        #expect(server.accepted.withLock { $0 } == 3)
    }

    @Test("refused connections, garbage, truncated and late answers are unreachable errors naming the coordinator")
    func errors() async throws {
        let closed = try ScriptedServer([])
        let port = closed.port
        closed.stop()
        do {
            _ = try await client(closed).send(.GET, "")
            Issue.record("a refused connection must throw")
        } catch let ClientError.unreachable(message) {
            // Said as refused, not as a timeout: the pool does not retry until the deadline.
            #expect(message.contains("http://127.0.0.1:\(port)") && message.contains("connection refused"), "\(message)")
        }
        for reply in ["SMTP ready\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"] {
            let server = try ScriptedServer([.init(bytes: reply, closeAfter: true)])
            await #expect(throws: ClientError.self) { try await client(server).send(.GET, "") }
        }
        // A server that never answers: the request's timeout ends it.
        let silent = try ScriptedServer([.init(bytes: "", closeAfter: false)])
        do {
            _ = try await client(silent, timeout: 0.5).runStatus("r")
            Issue.record("a silent server must time out")
        } catch let ClientError.unreachable(message) {
            #expect(message.contains("no answer in time") || message.contains("closed"), "\(message)")
        }
    }

    @Test("run management asks for the documented paths and reads the answers")
    func runManagement() async throws {
        let status =
            #"{"id":"r1","name":"n","state":"running","phase":1,"tasks":{"total":3,"done":1,"leased":1,"queued":1,"failed":0},"resamples":10,"resamplesDone":0,"created":1,"dataset":"sha256:x"}"#
        let server = try ScriptedServer([
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: \(status.utf8.count)\r\n\r\n\(status)", closeAfter: false),
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na,b", closeAfter: false),
        ])
        let c = client(server)
        let s = try await c.runStatus("r1", wait: true)
        #expect(s.id == "r1" && s.state == .running && s.tasks.done == 1)
        #expect(text(try await c.report("r1", format: "csv")) == "a,b")
        #expect(head(server, 0).hasPrefix("get /v1/runs/r1?wait=1 http/1.1"))
        #expect(head(server, 1).hasPrefix("get /v1/runs/r1/report?format=csv http/1.1"))
    }
}
