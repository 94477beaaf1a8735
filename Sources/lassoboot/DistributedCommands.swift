import Analysis
import ArgumentParser
import Coordinator
import CoordinatorAPI
import CoordinatorHTTP
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Scheduler
import Store
import Tabular
import Worker

/// `--log-level` and `--log-format`: how much the coordinator and the worker log, and how (to
/// standard error, through swift-log; ids and counts as metadata, never data rows).
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical (got '\(logLevel)')")
        }
        guard logFormat == "text" || logFormat == "json" else {
            throw ValidationError("--log-format must be text or json (got '\(logFormat)')")
        }
    }

    @Option(name: .customLong("log-format"), help: "text (key=value metadata) or json (one object per line).")
    var logFormat: String = "text"

    /// Sends every logger of this process to standard error at the chosen level and format;
    /// returns one labelled `label`.
    func bootstrap(_ label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { name in
            if json {
                var handler = JSONLogHandler(label: name)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

/// Token options shared by every command that talks to a coordinator.
struct TokenOptions: ParsableArguments {
    @Option(name: .long, help: "Bearer token (default: $LASSOBOOT_TOKEN).")
    var token: String?

    @Option(name: .customLong("token-file"), help: "File whose first line is the bearer token.")
    var tokenFile: String?

    /// The first line of a token file, trimmed; an unreadable or empty file is an error naming it.
    static func readTokenFile(_ path: String, option: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read \(option) \(path)")
        }
        let t = text.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard !t.isEmpty else { throw ValidationError("\(option) \(path) is empty") }
        return t
    }

    func resolve() throws -> String? {
        if let token { return token }
        if let path = tokenFile { return try Self.readTokenFile(path, option: "--token-file") }
        if let env = ProcessInfo.processInfo.environment["LASSOBOOT_TOKEN"], !env.isEmpty { return env }
        return nil
    }
}

/// The coordinator URL of `--coordinator`, checked up front (scheme, host, port 1-65535).
func coordinatorURL(_ text: String) throws -> URL {
    switch HTTPCoordinatorClient.validatedBase(text) {
    case let .success(url): return url
    case let .failure(e): throw ValidationError("--coordinator: \(e)")
    }
}

/// Where the coordinator is and how to authenticate: shared by every client command.
struct CoordinatorOptions: ParsableArguments {
    @Option(name: .long, help: "Coordinator URL.")
    var coordinator: String

    @OptionGroup var tokens: TokenOptions

    func validate() throws { _ = try coordinatorURL(coordinator) }

    func client() throws -> RunClient { try RunClient(coordinator: coordinator, token: try tokens.resolve()) }
}

/// `lassoboot coordinator`: the HTTP server that holds runs and hands out tasks.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Serve the coordinator API: accept runs, lease tasks to workers, aggregate reports.")

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Port (0 picks a free one; the chosen port is printed).")
    var port: Int = 8080

    @Option(name: .long, help: "SQLite database file (created if missing); state survives restarts.")
    var db: String

    @OptionGroup var tokens: TokenOptions

    @Option(name: .customLong("worker-token"), help: "Separate token for workers (default: the client token).")
    var workerToken: String?

    @Option(name: .customLong("worker-token-file"), help: "File whose first line is the worker token (keeps it out of the process list).")
    var workerTokenFile: String?

    /// The worker token: `--worker-token`, `--worker-token-file`, or nil (the client token serves both).
    func resolveWorkerToken() throws -> String? {
        if workerToken != nil && workerTokenFile != nil { throw ValidationError("give --worker-token or --worker-token-file, not both") }
        if let workerToken { return workerToken }
        guard let path = workerTokenFile else { return nil }
        return try TokenOptions.readTokenFile(path, option: "--worker-token-file")
    }

    @Flag(name: .customLong("insecure-no-token"), help: "Run without tokens (only allowed on a loopback address).")
    var insecureNoToken = false

    @Option(name: .customLong("lease-seconds"), help: "Lease duration; workers renew every third of it.")
    var leaseSeconds: Double = 30

    @Option(name: .customLong("max-attempts"), help: "Attempts per task before the run fails.")
    var maxAttempts: Int = 3

    @Option(name: .customLong("max-lease-wait"), help: "Longest a lease request long-polls, in seconds.")
    var maxLeaseWait: Double = 20

    @Option(
        name: .customLong("verify-fraction"),
        help: ArgumentHelp(
            "Fraction of phase-2 results the coordinator recomputes before accepting them (cross-validation results: 5x this).",
            discussion:
                "A worker whose result differs from the recomputation is quarantined and the runs it contributed to fail. 0 turns the sample off; every fit's KKT certificate is checked regardless."
        ))
    var verifyFraction: Double = 0.02

    @Option(
        name: .customLong("prepared-cache-mb"),
        help: "Megabytes of prepared run data kept in memory (least recently used dropped beyond it; finished runs' at once).")
    var preparedCacheMB: Int = 256

    @Option(name: .customLong("forget-workers-after"), help: "Seconds after which a silent worker is dropped from the registry.")
    var forgetWorkersAfter: Double = 3600

    @Option(name: .customLong("max-workers"), help: "Most workers registered at once (the least recently seen are dropped beyond it).")
    var maxWorkers: Int = 10_000

    @Option(name: .customLong("dataset-grace"), help: "Seconds an uploaded dataset no run uses is kept before it is deleted.")
    var datasetGrace: Double = 3600

    /// The limits on what the coordinator keeps, from the options.
    func housekeeping() throws -> Housekeeping {
        guard preparedCacheMB >= 0, preparedCacheMB <= 1 << 30 else { throw ValidationError("--prepared-cache-mb must be between 0 and 2^30") }
        guard forgetWorkersAfter > 0, forgetWorkersAfter.isFinite else {
            throw ValidationError("--forget-workers-after must be a positive number of seconds")
        }
        guard maxWorkers >= 1 else { throw ValidationError("--max-workers must be at least 1") }
        guard datasetGrace >= 0, datasetGrace.isFinite else { throw ValidationError("--dataset-grace must be a non-negative number of seconds") }
        return Housekeeping(
            preparedBudget: preparedCacheMB << 20, workerExpiry: forgetWorkersAfter, maxWorkers: maxWorkers, datasetGrace: datasetGrace)
    }

    @Option(
        name: .customLong("max-dataset-bytes"),
        help:
            "Largest dataset upload in bytes (default 4 GiB); larger ones get 413. Uploads are stored in 16 MiB pieces; workers hold a run's dataset in memory while preparing it."
    )
    var maxDatasetBytes: Int = BodyLimits().dataset

    @Option(
        name: .customLong("max-connections"),
        help: "Open connections served at once; more wait in the listen backlog (capped below the file-descriptor limit).")
    var maxConnections: Int = 1024

    @Option(
        name: .customLong("idle-timeout"),
        help: "Seconds a connection may wait for a request's header, or sit idle between requests, before it is closed (> --max-lease-wait).")
    var idleTimeout: Double = 30

    func validate() throws {
        guard (1...BodyLimits.datasetCeiling).contains(maxDatasetBytes) else {
            throw ValidationError("--max-dataset-bytes must be between 1 and \(BodyLimits.datasetCeiling) (got \(maxDatasetBytes))")
        }
        guard maxConnections >= 8 else { throw ValidationError("--max-connections must be >= 8 (got \(maxConnections))") }
        guard maxLeaseWait >= 0, maxLeaseWait.isFinite else { throw ValidationError("--max-lease-wait must be a non-negative number of seconds") }
        guard idleTimeout.isFinite, idleTimeout >= 1, idleTimeout > maxLeaseWait else {
            throw ValidationError("--idle-timeout must be at least 1 second and longer than --max-lease-wait (\(maxLeaseWait)); got \(idleTimeout)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535 (got \(port))") }
    }

    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (needs --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    /// The HTTPS server configuration, or nil for plain HTTP.
    func tlsConfiguration() throws -> TLSConfiguration? {
        switch (tlsCert, tlsKey) {
        case (nil, nil): return nil
        case (nil, _?), (_?, nil): throw ValidationError("--tls-cert and --tls-key go together")
        case let (cert?, key?):
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(cert) } catch {
                throw ValidationError("--tls-cert \(cert): not a readable PEM certificate file (\(error))")
            }
            guard !chain.isEmpty else { throw ValidationError("--tls-cert \(cert): no certificate in the file") }
            let privateKey: NIOSSLPrivateKey
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
                throw ValidationError("--tls-key \(key): not a readable PEM private key (\(error))")
            }
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            config.minimumTLSVersion = .tlsv12
            return config
        }
    }

    func run() async throws {
        let token = try tokens.resolve()
        let loopback = host == "127.0.0.1" || host == "::1" || host == "localhost"
        if token == nil && !(insecureNoToken && loopback) {
            throw ValidationError(
                "a token is required: --token, --token-file or LASSOBOOT_TOKEN (--insecure-no-token is allowed only on a loopback address)")
        }
        let tls = try tlsConfiguration()
        let logger = logging.bootstrap("lassoboot.coordinator")
        guard verifyFraction.isFinite, (0...1).contains(verifyFraction) else { throw ValidationError("--verify-fraction must be between 0 and 1") }
        // Connections never use up the descriptors SQLite and the listener need (no EMFILE).
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        let connections = FileDescriptorLimit.connectionCap(requested: maxConnections, limit: descriptors)
        if connections < maxConnections {
            logger.warning(
                "--max-connections lowered to fit the file-descriptor limit",
                metadata: [
                    "requested": "\(maxConnections)", "used": "\(connections)", "limit": "\(descriptors)",
                ])
        }
        let store = try SQLiteStore(path: db)
        let service = try CoordinatorService(
            store: store, policy: SchedulerPolicy(leaseDuration: leaseSeconds, maxAttempts: maxAttempts, speculativeAfter: max(5, leaseSeconds / 3)),
            software: "lassoboot \(LassobootVersion.string)", logger: logger, verifyFraction: verifyFraction, housekeeping: try housekeeping())
        let client = token ?? "", worker = try resolveWorkerToken() ?? token ?? ""
        let router = CoordinatorHTTP.router(
            service: service, tokens: Tokens(client: client, worker: worker), allowAnonymous: token == nil,
            limits: BodyLimits(dataset: maxDatasetBytes), maxLeaseWait: maxLeaseWait, metrics: CoordinatorMetrics(aliveWithin: leaseSeconds),
            secureCookies: tls != nil)
        let scheme = tls == nil ? "http" : "https"
        // A connection that sends no complete request header within the timeout (slowloris), or
        // sits idle that long between requests, is closed; a long poll in progress is not idle.
        let http1 = HTTP1Channel.Configuration(idleTimeout: .milliseconds(Int64(idleTimeout * 1000)))
        let app = Application(
            router: router, server: try tls.map { try .tls(.http1(configuration: http1), tlsConfiguration: $0) } ?? .http1(configuration: http1),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "lassoboot",
                availableConnectionsDelegate: MaximumAvailableConnections(connections, logger: logger)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                FileHandle.standardOutput.write(Data("listening on \(scheme)://\(host):\(bound)\n".utf8))
            }, logger: logger)
        var server = app
        server.addServices(CoordinatorTicker(service: service, logger: logger))
        try await server.runService()
    }
}

/// `lassoboot worker`: pulls tasks from a coordinator and runs them on this host's cores.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run tasks for a coordinator on local cores until stopped (SIGTERM drains) or idle.")

    @Option(name: .long, help: "Coordinator URL, e.g. http://10.0.0.1:8080.")
    var coordinator: String

    @OptionGroup var tokens: TokenOptions

    @Option(name: .long, help: "Tasks run at once (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("idle-exit"), help: "Exit after this many seconds without work.")
    var idleExit: Double?

    @Option(name: .long, help: "Worker name (default: host-pid).")
    var name: String?

    @Option(name: .customLong("heartbeat-seconds"), help: "Seconds between lease renewals.")
    var heartbeatSeconds: Double = 10

    @Option(
        name: .customLong("prepared-cache-mb"),
        help: "Megabytes of prepared run data kept (least recently used dropped beyond it; ended runs' at once).")
    var preparedCacheMB: Int = 256

    @Option(
        name: .customLong("dataset-cache-mb"),
        help:
            "Megabytes of datasets kept after their runs end, for their CSV bytes and again for their parsed form, so a later run on the same data is neither downloaded nor parsed again; 0 keeps none."
    )
    var datasetCacheMB: Int = 256

    @OptionGroup var logging: LogOptions

    func validate() throws {
        _ = try coordinatorURL(coordinator)
        guard (1...WorkerConfig.maximumThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(WorkerConfig.maximumThreads) (got \(threads))")
        }
        guard datasetCacheMB >= 0, datasetCacheMB <= 1 << 30 else {
            throw ValidationError("--dataset-cache-mb must be between 0 and 2^30 (got \(datasetCacheMB))")
        }
        guard heartbeatSeconds.isFinite, heartbeatSeconds >= WorkerConfig.minimumHeartbeat, heartbeatSeconds <= 3600 else {
            throw ValidationError("--heartbeat-seconds must be between \(WorkerConfig.minimumHeartbeat) and 3600 (got \(heartbeatSeconds))")
        }
        if let idleExit, !(idleExit.isFinite && idleExit >= 0) {
            throw ValidationError("--idle-exit must be a number of seconds >= 0 (got \(idleExit))")
        }
        if let name, name.isEmpty || name.count > 256 { throw ValidationError("--name must be 1 to 256 characters") }
    }

    func run() async throws {
        let base = try coordinatorURL(coordinator)
        let host = ProcessInfo.processInfo.hostName
        let id = name ?? "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        var logger = logging.bootstrap("lassoboot.worker")
        logger[metadataKey: "worker"] = "\(id)"
        let loop = WorkerLoop(
            client: HTTPCoordinatorClient(base: base, token: try tokens.resolve()),
            config: WorkerConfig(
                id: id, host: host, threads: threads, idleExit: idleExit, heartbeatInterval: heartbeatSeconds,
                preparedBudget: max(0, min(preparedCacheMB, 1 << 30)) << 20, datasetBudget: max(0, min(datasetCacheMB, 1 << 30)) << 20),
            logger: logger)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                logger.notice("signal \(sig): draining (finishing the tasks in hand)")
                loop.drain()
            }
            s.resume()
            return s
        }
        logger.notice("started", metadata: ["threads": "\(threads)", "coordinator": "\(coordinator)"])
        await loop.run()
        sources.forEach { $0.cancel() }
        // A refusal (wrong token, a request the coordinator rejects) is not an outage: one line, exit 1.
        if let reason = loop.stopReason { throw CLIError("worker stopped: \(reason)") }
        logger.notice("stopped after \(loop.tasksDone) tasks")
    }
}
