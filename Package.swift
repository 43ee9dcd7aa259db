// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Swarm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tracker", targets: ["TrackerCommand"]),
        .executable(name: "client", targets: ["ClientCommand"]),
        .executable(name: "swarm-bench", targets: ["SwarmBench"]),
        .library(name: "SwarmProtocol", targets: ["SwarmProtocol"]),
        .library(name: "SwarmCore", targets: ["SwarmCore"]),
        .library(name: "SwarmTracker", targets: ["SwarmTracker"]),
        .library(name: "SwarmTUI", targets: ["SwarmTUI"]),
        .library(name: "TorrentProtocol", targets: ["TorrentProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "SwarmProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // BitTorrent's codecs: bencode, metainfo, peer wire, announces. Pure: no sockets, no files.
        .target(
            name: "TorrentProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "SwarmCore",
            dependencies: [
                "SwarmProtocol",
                "CMalloc",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The BitTorrent engine: a torrent's storage, peers, choker and trackers.
        .target(
            name: "SwarmTorrent",
            dependencies: [
                "TorrentProtocol", "SwarmCore", "SwarmProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "SwarmTracker",
            dependencies: [
                "SwarmProtocol",
                "TorrentProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .systemLibrary(name: "CNcurses"),
        // glibc's allocator settings, for MemoryReuse.
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "SwarmTUI",
            dependencies: ["SwarmCore", "SwarmProtocol", "CNcurses"]
        ),
        .executableTarget(
            name: "TrackerCommand",
            dependencies: [
                "SwarmTracker",
                "SwarmCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ClientCommand",
            dependencies: [
                "SwarmCore",
                "SwarmTorrent",
                "TorrentProtocol",
                "SwarmTUI",
                "SwarmTracker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // For the processes the tests and swarm-bench start: blocking loopback sockets, ports,
        // and clearing what an interrupted run left running.
        .target(name: "LoopbackSupport"),
        // Hosts of the tests' and swarm-bench's own in network namespaces, with latency and loss.
        .target(name: "CNetworkLab"),
        .target(name: "NetworkLab", dependencies: ["CNetworkLab"]),
        .executableTarget(
            name: "SwarmBench",
            dependencies: [
                "SwarmCore", "SwarmProtocol", "SwarmTUI", "LoopbackSupport", "NetworkLab", "TorrentProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SwarmProtocolTests",
            dependencies: [
                "SwarmProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TorrentProtocolTests",
            dependencies: [
                "TorrentProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SwarmTorrentTests",
            dependencies: [
                "SwarmTorrent", "TorrentProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SwarmCoreTests",
            dependencies: ["SwarmCore", .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        .testTarget(
            name: "SwarmTrackerTests",
            dependencies: [
                "SwarmTracker", "TorrentProtocol", "LoopbackSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwarmTUITests",
            dependencies: ["SwarmTUI", "SwarmCore", "SwarmProtocol"],
            exclude: ["Snapshots"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TrackerCommand", "ClientCommand", "SwarmBench", "SwarmProtocol", "SwarmCore", "LoopbackSupport", "NetworkLab", "TorrentProtocol", "SwarmTorrent",
            ],
            resources: [.copy("Seed"), .copy("Torrent")]
        ),
    ]
)
