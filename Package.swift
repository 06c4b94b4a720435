// swift-tools-version: 6.0
// caas-gateway: the batch integration gateway of a Car-as-a-Service company.
// Dependencies point down the target list and never up; a C type never leaves its wrapper.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "caas-gateway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "caas-gateway", targets: ["caas-gateway"]),
        .executable(name: "caas-feedgen", targets: ["caas-feedgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Only the webhook receiver (caas-gateway receive) serves HTTP.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        // System library: libxml2 (xmlTextReader). Module map + shim only.
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        // System library: libssh2 (SFTP client). Module map + shim only.
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // System library: libcurl (HTTPS to partner APIs). Module map + shim only.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // System library: libpq (the PostgreSQL store's client). Module map + shim only.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Canonical model, facts, lifecycle fold, policies, validators. Pure: no I/O.
        // The run's "working on" mark and the fatal-signal handler that signs it (C: a signal
        // handler may only call async-signal-safe functions).
        .target(name: "CCrashMark"),
        .target(
            name: "GatewayCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Streaming CSV and XML readers; mapping files -> records -> facts.
        .target(
            name: "GatewayFormats",
            dependencies: ["GatewayCore", "CLibXML2", "Yams"],
            swiftSettings: strict
        ),
        // SFTP over libssh2, with OpenSSH's known_hosts rules. C stays inside.
        .target(
            name: "GatewayTransport",
            dependencies: ["CLibSSH2", "CCurl", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The store behind small protocols: fact log, file ledger, projection, actions, runs.
        // SQLite (one machine, the default) and PostgreSQL (several runners sharing one database).
        .target(
            name: "GatewayStore",
            dependencies: [
                "GatewayCore", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's own binding calls, for the ingest's per-record insert.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // Durable file writes (temporary name, fsync, rename, directory fsync), for the run and
        // the webhook receiver alike.
        .target(name: "GatewayFiles", swiftSettings: strict),
        // The run: discover, ingest, fold, decide, act, reconcile, report.
        .target(
            name: "GatewayEngine",
            dependencies: [
                "GatewayCore", "GatewayFormats", "GatewayStore", "GatewayTransport", "GatewayFiles", "CCrashMark",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                "Yams",
            ],
            swiftSettings: strict
        ),
        // The factory's signed webhooks (Standard Webhooks 1.0) into inbox files: verification,
        // the durable write, and the HTTP server around them.
        .target(
            name: "GatewayReceiver",
            dependencies: [
                "GatewayCore", "GatewayFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The command line: argument parsing, configuration, exit codes, output.
        .executableTarget(
            name: "caas-gateway",
            dependencies: [
                "GatewayEngine", "GatewayCore", "GatewayStore", "GatewayFormats", "GatewayReceiver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Deterministic generator of partner files at any size, for benchmarks and load tests.
        .executableTarget(
            name: "caas-feedgen",
            dependencies: [
                "GatewayCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // One entry point per reader of partner input, for fuzzing (any bytes in, never a trap).
        .target(
            name: "GatewayFuzzTargets",
            dependencies: ["GatewayCore", "GatewayFormats"],
            swiftSettings: strict
        ),
        // The fuzzer: libFuzzer's when built with --sanitize=fuzzer -DFUZZING (scripts/fuzz), a
        // seeded mutator otherwise. Not part of the shipped package.
        .executableTarget(
            name: "caas-fuzz",
            dependencies: ["GatewayFuzzTargets"],
            swiftSettings: strict
        ),
        // Fixture paths and scratch directories for every test target.
        // How the tests start processes: glibc's closefrom and pipe2, which Swift's Glibc does not show.
        .target(name: "CSpawn", path: "Tests/CSpawn"),
        .target(name: "GatewayTestSupport", dependencies: ["GatewayCore", "CSpawn"], path: "Tests/GatewayTestSupport"),
        .testTarget(name: "GatewayTestSupportTests", dependencies: ["GatewayTestSupport"]),
        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore", "GatewayTestSupport"]),
        .testTarget(
            name: "GatewayFormatsTests", dependencies: ["GatewayFormats", "GatewayCore", "GatewayTestSupport", "GatewayFuzzTargets"]),
        .testTarget(
            name: "GatewayStoreTests",
            dependencies: ["GatewayStore", "GatewayCore", "GatewayTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "GatewayTransportTests", dependencies: ["GatewayTransport", "GatewayTestSupport"]),
        .testTarget(
            name: "GatewayEngineTests",
            dependencies: [
                "GatewayEngine", "GatewayStore", "GatewayFormats", "GatewayCore", "GatewayFiles", "GatewayTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built executable as cron would: exit codes, silence, messages.
        .testTarget(
            name: "GatewayReceiverTests",
            dependencies: [
                "GatewayReceiver", "GatewayTransport", "GatewayTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "CaasGatewayCLITests",
            dependencies: [
                "caas-gateway", "GatewayEngine", "GatewayCore", "GatewayFormats", "GatewayTransport", "GatewayTestSupport",
                "GatewayReceiver",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ]
)
