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
    ],
    targets: [
        .target(name: "BenchSupport", path: "BenchSupport"),
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
    ]
)
