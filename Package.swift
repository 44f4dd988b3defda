// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "logstore",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "logstore", targets: ["logstore"]),
        .library(name: "LogStore", targets: ["LogStore"]),
        .library(name: "LogStoreIngest", targets: ["LogStoreIngest"]),
        .library(name: "LogStoreHTTP", targets: ["LogStoreHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CShims"),
        .target(
            name: "LogStore",
            dependencies: [
                "CLMDB", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "LogStoreIngest",
            dependencies: ["LogStore"]
        ),
        .target(
            name: "LogStoreHTTP",
            dependencies: [
                "LogStore", "LogStoreIngest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            // The web viewer's files, compiled into the binary (Sources/LogStoreHTTP/UI/).
            resources: [.embedInCode("UI/assets")]
        ),
        .executableTarget(
            name: "logstore",
            dependencies: [
                "LogStore", "LogStoreIngest", "LogStoreHTTP", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // What several test targets share (the seeded generator); not a product.
        .target(name: "TestSupport", dependencies: ["CShims"], path: "Tests/TestSupport"),
        .testTarget(
            name: "LogStoreTests",
            dependencies: ["LogStore", "LogStoreIngest", "CShims", "TestSupport"]
        ),
        .testTarget(
            name: "LogStoreIngestTests",
            dependencies: ["LogStoreIngest", "LogStore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "LogStoreHTTPTests",
            dependencies: [
                "LogStoreHTTP", "LogStore", "LogStoreIngest", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LogStoreCLITests",
            dependencies: ["LogStore", "TestSupport"]
        ),
    ]
)

// libFuzzer targets (`make fuzz`, and a short run in `make test`): declared only when
// LOGSTORE_FUZZ is set, since they have no `main` of their own (libFuzzer's is linked in by
// `-sanitize=fuzzer`); built into .build-fuzz so the normal build keeps its flags.
if Context.environment["LOGSTORE_FUZZ"] != nil {
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzBulk", ["LogStoreIngest"]),
        ("FuzzJSONScanner", ["LogStoreIngest"]),
        ("FuzzMessagePack", ["LogStoreIngest"]),
        ("FuzzQuery", ["LogStore"]),
        ("FuzzDSL", ["LogStoreHTTP", "LogStore"]),
        ("FuzzBlock", ["LogStore", "CZlib"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: dependencies, path: "Fuzz/\(name)",
                swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
