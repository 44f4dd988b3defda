// swift-tools-version: 6.1
// Micro-benchmarks (ordo-one/benchmark). Run from the repository root with `make bench`.
import Foundation
import PackageDescription

// The root package is referenced by path; its identity is its directory's name.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "LogStoreBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // The open-loop driver of `make bench-load` (Benchmarks/load/README.md).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        .target(name: "BenchSupport", path: "BenchSupport"),
        // The system zlib, for the driver's own gunzip of answers (the same library a Python
        // client such as opensearch-py uses, through urllib3).
        .systemLibrary(name: "CZlibDriver", path: "CZlibDriver", pkgConfig: "zlib"),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LogStore", package: rootIdentity),
            ],
            path: "StorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Full-text search on 3M lines: latency, exact counts, index size, ingest cost.
        .executableTarget(
            name: "SearchBench",
            dependencies: ["BenchSupport", .product(name: "LogStore", package: rootIdentity)],
            path: "SearchBench"
        ),
        // Open-loop load driver (fixed schedule, HDR histogram) for logstore over HTTP and for
        // PostgreSQL over its wire protocol: `swift build -c release --product loaddriver`.
        .executableTarget(
            name: "loaddriver",
            dependencies: [
                "CZlibDriver",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "LoadDriver"
        ),
    ]
)
