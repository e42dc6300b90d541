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
        .executable(name: "speecht5", targets: ["speecht5"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: blasTargets + [
        .target(
            name: "CKernels"
        ),
        .target(
            name: "SpeechT5",
            dependencies: blasDependencies + ["CKernels"]
        ),
        .executableTarget(
            name: "speecht5",
            dependencies: [
                "SpeechT5",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SpeechT5Tests",
            dependencies: ["SpeechT5"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
