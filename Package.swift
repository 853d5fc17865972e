// swift-tools-version: 6.0
import PackageDescription
import Foundation

// Our numeric kernels are written with SIMD types; without a target CPU the compiler may only use
// SSE2 and the hot loops run several times slower. `native` is right for a build that runs where
// it is built (CI, a user's own machine); set FNN_PAR_TARGET_CPU (e.g. x86-64-v3) for a binary
// that must run on other machines.
let targetCPU = ProcessInfo.processInfo.environment["FNN_PAR_TARGET_CPU"] ?? "native"
// -fno-math-errno for the C headers Swift inlines: Float.squareRoot() goes through a C shim of
// the standard library, and with errno semantics (Linux's default) every square root carries a
// negative-input check and a libm call, which also keeps SIMD square roots from vectorising
// (Adam's update ran lane by lane).
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", targetCPU, "-enforce-exclusivity=unchecked", "-Xcc", "-fno-math-errno"]),
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "fnn-par",
    products: [
        .executable(name: "fnn-par", targets: ["CLI"]),
        .library(name: "FNNCore", targets: ["Core"]),
        .library(name: "FNNParallel", targets: ["Parallel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CNuma", path: "Sources/CNuma", pkgConfig: "numa",
            providers: [.apt(["libnuma-dev"])]),
        // Compressed data files (gzip, zstd), read directly.
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .target(name: "CThreadSupport", path: "Sources/CThreadSupport"),
        .target(name: "CMemoryHints", path: "Sources/CMemoryHints"),
        // Reports a fault in a mapped data file that changed under the run, instead of a crash.
        .target(name: "CMappingFaults", path: "Sources/CMappingFaults"),
        // The build's target CPU as a string, for `fnn-par --version`.
        .target(name: "CBuildInfo", path: "Sources/CBuildInfo",
                cSettings: [.define("FNN_PAR_TARGET_CPU", to: "\"\(targetCPU)\"")]),
        .target(name: "Core", dependencies: ["COpenBLAS", "CMemoryHints", "CMappingFaults", "CZlib", "CZstd"], path: "Sources/Core", swiftSettings: fastMath),
        .target(
            name: "Parallel", dependencies: ["Core", "CNuma", "CThreadSupport"],
            path: "Sources/Parallel", swiftSettings: fastMath),
        .executableTarget(
            name: "CLI",
            dependencies: ["Core", "Parallel", "CMemoryHints", "CBuildInfo", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/CLI", swiftSettings: fastMath),
        // Reference implementations shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: fastMath),
        .testTarget(name: "CoreTests", dependencies: ["Core", "TestSupport"], path: "Tests/CoreTests",
                    // Read from the source tree by path (#filePath), not bundled.
                    exclude: ["Fixtures"], swiftSettings: fastMath),
        .testTarget(name: "ParallelTests", dependencies: ["Core", "Parallel", "TestSupport"], path: "Tests/ParallelTests",
                    swiftSettings: fastMath),
        // Runs the built `fnn-par`; depending on the executable makes `swift test` build it first.
        .testTarget(name: "CLITests", dependencies: ["CLI"], path: "Tests/CLITests", swiftSettings: fastMath),
    ]
)
