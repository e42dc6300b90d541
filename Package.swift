// swift-tools-version:6.0
import PackageDescription

#if os(Linux)
let blasDependencies: [Target.Dependency] = ["COpenBLAS"]
let blasTargets: [Target] = [
    .systemLibrary(
        name: "COpenBLAS",
        pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]
    )
]
#else
// Apple platforms use Accelerate, imported directly by the kernels.
let blasDependencies: [Target.Dependency] = []
let blasTargets: [Target] = []
#endif

let package = Package(
    name: "speecht5-swift",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SpeechT5", targets: ["SpeechT5"]),
        .library(name: "SpeechT5Server", targets: ["SpeechT5Server"]),
        .executable(name: "speecht5", targets: ["speecht5"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: blasTargets + [
        .target(
            name: "CKernels"
        ),
        .target(
            name: "SpeechT5",
            dependencies: blasDependencies + ["CKernels"]
        ),
        .target(
            name: "SpeechT5Server",
            dependencies: [
                "SpeechT5",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "speecht5",
            dependencies: [
                "SpeechT5",
                "SpeechT5Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SpeechT5Tests",
            dependencies: ["SpeechT5"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SpeechT5ServerTests",
            dependencies: [
                "SpeechT5Server",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
