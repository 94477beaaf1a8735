// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lassoboot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lassoboot", targets: ["lassoboot"]),
        .library(name: "Lasso", targets: ["Lasso"]),
        .library(name: "Tabular", targets: ["Tabular"]),
        .library(name: "Resampling", targets: ["Resampling"]),
        .library(name: "Analysis", targets: ["Analysis"]),
    ],
    dependencies: [
        // CLI parsing: one type per subcommand, help next to each option.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // exp / log1p for Double without importing the platform C library into the core.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // Durable coordinator state: SQLite in WAL mode with a synchronous, transactional API.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // The coordinator's HTTP server (and its in-process test client).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The coordinator's background duties as a Service in the server's service group (already
        // resolved and built for Hummingbird: no new build time).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        // `/metrics`: swift-metrics handles backed by a Prometheus registry (small: atomics only).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // The worker's and the CLI's HTTP(S) client: SwiftNIO, already linked for the server, so an
        // idle long poll costs no CPU (URLSession on Linux spins) and libcurl is not linked.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        // Structured logs (run, task and worker ids as metadata); already built for Hummingbird.
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        // Numerical core: pure, no I/O, stdlib only.
        .target(
            name: "Lasso",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")]
        ),
        // Counter-based RNG, bootstrap draws, folds, CI methods: pure, no I/O.
        .target(
            name: "Resampling",
            dependencies: ["Lasso", .product(name: "RealModule", package: "swift-numerics")]
        ),
        // zlib (already linked by Foundation's libcurl): `.csv.gz` read directly.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // CSV in, validation with file/line/column errors.
        .target(name: "Tabular", dependencies: ["CZlib"]),
        // The task plan: task keys, phase-2 input and result shapes. No dependencies.
        .target(name: "Plan"),
        // Run specs, task execution, aggregation and report rendering.
        .target(name: "Analysis", dependencies: ["Lasso", "Resampling", "Tabular", "Plan"]),
        // The coordinator's /v1 protocol: wire bodies and their byte-level JSON codec.
        .target(name: "CoordinatorAPI", dependencies: ["Plan"]),
        // The coordinator's /v1 API over HTTP(S) for workers and the CLI.
        .target(
            name: "CoordinatorHTTP",
            dependencies: [
                "CoordinatorAPI", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Lease / attempt / retry state machine: pure, clock injected.
        .target(name: "Scheduler", dependencies: ["Plan"]),
        // Durable runs, tasks, leases and results (SQLite via GRDB) and an in-memory twin.
        .target(name: "Store", dependencies: ["Scheduler", "Plan", "CoordinatorAPI", .product(name: "GRDB", package: "GRDB.swift")]),
        // The coordinator: run logic over Scheduler + Store, and its HTTP API (Hummingbird).
        .target(
            name: "Coordinator",
            dependencies: [
                "Scheduler", "Store", "Analysis", "Plan", "CoordinatorAPI", "Tabular", "Lasso",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                // Served at /openapi.json; embedded so the static binary needs no resource bundle.
                .embedInCode("openapi.json")
            ]),
        // The worker: pull loop over any CoordinatorClient, dataset cache, drain.
        .target(name: "Worker", dependencies: ["Analysis", "Plan", "CoordinatorAPI", "Tabular", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "lassoboot",
            dependencies: [
                "Lasso", "Tabular", "Analysis", "Plan", "CoordinatorAPI", "CoordinatorHTTP", "Scheduler", "Store", "Coordinator", "Worker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // HTTPS for the coordinator (`--tls-cert/--tls-key`): swift-nio-ssl, which Hummingbird already resolves.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
            ],
            plugins: ["BuildInfo"]
        ),
        // Seeded generators for test and benchmark data (never linked into the lassoboot binary).
        .target(name: "TestSupport"),
        // `lassoboot --version` names the git commit: a generated file, never a tracked one.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        // Benchmarks: `bash Benchmarks/run.sh` prints figures side by side with the peers.
        .executableTarget(
            name: "lassoboot-bench",
            dependencies: ["Lasso", "Tabular", "Resampling", "Analysis", "Plan", "CoordinatorAPI", "TestSupport"],
            path: "Benchmarks/LassobootBench"
        ),
        .testTarget(name: "LassoTests", dependencies: ["Lasso", "Tabular", "TestSupport"]),
        .testTarget(name: "TabularTests", dependencies: ["Tabular", "TestSupport"]),
        .testTarget(name: "ResamplingTests", dependencies: ["Resampling", "Lasso"]),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "Plan"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Scheduler", "Plan", "CoordinatorAPI"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Plan", "CoordinatorAPI", "Lasso", "Resampling", "Tabular"]),
        .testTarget(name: "CoordinatorAPITests", dependencies: ["CoordinatorAPI", "Plan"]),
        .testTarget(name: "CLITests", dependencies: ["Lasso", "Tabular", "lassoboot"]),
        .testTarget(name: "EndToEndTests", dependencies: ["lassoboot"]),
        .testTarget(name: "CoordinatorHTTPTests", dependencies: ["CoordinatorHTTP", "CoordinatorAPI"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "CoordinatorAPI"]),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "Analysis", "Plan", "CoordinatorAPI", "Scheduler", "Store", "Tabular", "Worker",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
