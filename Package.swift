// swift-tools-version:6.1
// The architecture, read top to bottom: Domain depends on nothing; each adapter depends on Domain
// and one C module (through HTTPTransport for the two HTTP clients); only Wiring, which both
// executables (`hotspot-pay` and `hotspotctl`) build through, names concrete adapters.
import PackageDescription

let package = Package(
    name: "hotspot-pay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hotspot-pay", targets: ["FCGIEntry"]),
        .executable(name: "hotspotctl", targets: ["HotspotCtl"]),
        .executable(name: "hotspot-fuzz-replay", targets: ["FuzzReplay"]),
        .executable(name: "hotspot-simulate", targets: ["Simulate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        // C libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // The product's rules: validation, the payment saga, ports. No C, no I/O.
        .target(name: "Domain"),
        // JSON values and the strict parser, for every layer that reads or writes JSON.
        .target(name: "JSON", dependencies: ["Domain"]),

        // Adapters.
        .target(
            name: "Secrets",
            dependencies: [
                "Domain", "JSON", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "HTTPTransport", dependencies: ["CCurl"]),
        // How both HTTP clients read a reply's JSON (the strict parser, JSONDecoder's readings).
        .target(name: "ReplyJSON", dependencies: ["Domain", "JSON"]),
        .target(name: "RouterOS", dependencies: ["Domain", "JSON", "HTTPTransport", "ReplyJSON"]),
        .target(name: "Gateway", dependencies: ["Domain", "JSON", "HTTPTransport", "ReplyJSON"]),
        .target(name: "Persistence", dependencies: ["Domain", "JSON", "CLibPQ"]),
        .target(name: "Configuration"),
        // The HTTP face of the Domain: request decoding, status codes, codigos, the customer's
        // Spanish wording and JSON bodies, in one place.
        .target(name: "API", dependencies: ["Domain", "JSON"]),

        // The one wiring: settings from the configuration, the adapters, the payment graph.
        // Both executables build through it, so they cannot drift.
        .target(
            name: "Wiring",
            dependencies: [
                "Domain", "API", "Secrets", "HTTPTransport", "RouterOS", "Gateway", "Persistence", "Configuration",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The executables.
        .executableTarget(
            name: "FCGIEntry",
            dependencies: [
                "Domain", "JSON", "API", "Secrets", "Persistence", "Configuration", "Wiring", "CFastCGI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "HotspotCtl",
            dependencies: [
                "Domain", "JSON", "Secrets", "Persistence", "Configuration", "Wiring",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // libFuzzer targets for every decoder of outside bytes (make fuzz); built plainly, it
        // replays the kept regression inputs (make test).
        .target(name: "FuzzTargets", dependencies: ["Domain", "API", "RouterOS", "Gateway", "HTTPTransport"]),
        .executableTarget(name: "FuzzReplay", dependencies: ["FuzzTargets"]),

        // The saga under seeded simulation: the real PaymentService and PaymentFlow over in-memory
        // ports, interleaved step by step, with crashes and faults (make simulate).
        .target(name: "Simulation", dependencies: ["Domain", "API"]),
        .executableTarget(name: "Simulate", dependencies: ["Simulation"]),

        // Tests: a target per source target (the fuzz targets and the simulator run from make). Most
        // need nothing (make test-unit); PersistenceTests needs a PostgreSQL cluster
        // (HOTSPOT_TEST_PG_HOST), and HTTPTransportTests, RouterOSTests and GatewayTests start the
        // sandboxes (make test-integration sets both up). TestSupport holds what several share: the
        // in-memory ports, the fake transport, fixture files, the sandboxes.
        .target(name: "TestSupport", dependencies: ["HTTPTransport", "Domain"], path: "Tests/TestSupport"),
        .testTarget(name: "DomainTests", dependencies: ["Domain", "TestSupport"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON", "Domain"]),
        .testTarget(name: "APITests", dependencies: ["API", "Domain", "JSON"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation"]),
        .testTarget(
            name: "SecretsTests",
            dependencies: ["Secrets", "Domain", .product(name: "_CryptoExtras", package: "swift-crypto")]),
        .testTarget(name: "HTTPTransportTests", dependencies: ["HTTPTransport", "TestSupport"]),
        .testTarget(name: "ReplyJSONTests", dependencies: ["ReplyJSON", "JSON"]),
        .testTarget(
            name: "RouterOSTests", dependencies: ["RouterOS", "Domain", "JSON", "HTTPTransport", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "GatewayTests", dependencies: ["Gateway", "Domain", "JSON", "HTTPTransport", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "PersistenceTests", dependencies: ["Persistence", "Domain", "Secrets"]),
        .testTarget(name: "WiringTests", dependencies: ["Wiring", "Domain", "Configuration"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"]),
        .testTarget(
            name: "FCGIEntryTests",
            dependencies: [
                "FCGIEntry", "API", "Domain", "JSON", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "HotspotCtlTests",
            dependencies: [
                "HotspotCtl", "Persistence", "Domain", "JSON", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
        ]
}
