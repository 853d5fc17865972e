// swift-tools-version: 6.2
// 6.2: a package whose targets carry `unsafeFlags` may be depended on by version (earlier tools
// refuse it), so FNNCore and FNNTrainer are usable as libraries.
import PackageDescription
import Foundation

// Our numeric kernels are written with SIMD types; without a target CPU the compiler may only use
// SSE2 and the hot loops run several times slower. `native` is right for a build that runs where
// it is built (CI, a user's own machine); set FNN_PAR_TARGET_CPU (e.g. x86-64-v3) for a binary
// that must run on other machines.
let targetCPU = ProcessInfo.processInfo.environment["FNN_PAR_TARGET_CPU"] ?? "native"

/// Settings of every Swift target: Swift 6 language mode, the target CPU.
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", targetCPU]),
    .swiftLanguageMode(.v6),
]

/// Settings of the targets that hold the numeric kernels and the loops that call them. This is NOT
/// fast-math, and must never become it: the determinism contract (ARCHITECTURE.md) needs every
/// float sum in its written order, which -ffast-math / reassociation would break.
/// Swift's exclusivity checks stay on here too: turning them off (`-enforce-exclusivity=unchecked`,
/// as these targets had it) measured no faster side by side (perf/RESULTS.md, session 6), since the
/// hot loops take `BufferView`s and raw pointers, which the checks do not cover.
/// - `-fno-math-errno` for the C headers Swift inlines: Float.squareRoot() goes through a C shim
///   of the standard library, and with errno semantics (Linux's default) every square root carries
///   a negative-input check and a libm call, which also keeps SIMD square roots from vectorising
///   (Adam's update ran lane by lane).
let numericKernelSettings: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", targetCPU, "-Xcc", "-fno-math-errno"]),
    .swiftLanguageMode(.v6),
]

// The module graph (ARCHITECTURE.md): each module's opening doc comment says what it may touch,
// and these dependency lists enforce it. Nothing imports upward:
//   FNNSystem <- FNNExecution <- FNNThreads            (threads never see the numerics)
//   FNNSystem, FNNExecution <- FNNCore <- FNNTrainer <- CLI
let package = Package(
    name: "fnn-par",
    products: [
        .executable(name: "fnn-par", targets: ["CLI"]),
        .library(name: "FNNCore", targets: ["FNNCore"]),
        .library(name: "FNNTrainer", targets: ["FNNTrainer"]),
        .library(name: "FNNThreads", targets: ["FNNThreads"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Flat C: system libraries and the few calls Swift cannot make directly. No logic.
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
        // Open MPI, for multi-process training (mpirun, srun): its handles behind inline accessors.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CThreadSupport", path: "Sources/CThreadSupport"),
        .target(name: "CMemoryHints", path: "Sources/CMemoryHints"),
        // Reports a fault in a mapped data file that changed under the run, instead of a crash.
        .target(name: "CMappingFaults", path: "Sources/CMappingFaults"),
        // The one C target with numeric logic: the bf16 matrix product, since Swift cannot name
        // AVX512-BF16's instructions and Debian's OpenBLAS has no sbgemm. Compiled for that
        // instruction set function by function, whatever the target CPU; called only where the
        // CPU reports it (`BFloat16GEMM.isSupported`).
        .target(name: "CGEMM", path: "Sources/CGEMM", cSettings: [.unsafeFlags(["-O3"])]),
        // The build's target CPU as a string, for `fnn-par --version`.
        .target(name: "CBuildInfo", path: "Sources/CBuildInfo",
                cSettings: [.define("FNN_PAR_TARGET_CPU", to: "\"\(targetCPU)\"")]),

        // The operating system: files, mappings, memory, clocks. No numerics, no threads.
        .target(name: "FNNSystem", dependencies: ["CMappingFaults", "CMemoryHints"], path: "Sources/FNNSystem",
                swiftSettings: swiftSettings),
        // How work is described to a runtime: phases of tasks, slices, partitions, the
        // communicator. Protocols and bookkeeping only.
        .target(name: "FNNExecution", dependencies: ["FNNSystem"], path: "Sources/FNNExecution",
                swiftSettings: swiftSettings),
        // The thread runtime: persistent pinned workers, futex waits, NUMA placement. Never the numerics.
        .target(name: "FNNThreads", dependencies: ["FNNExecution", "FNNSystem", "CNuma", "CThreadSupport"],
                path: "Sources/FNNThreads", swiftSettings: swiftSettings),
        // The numerics: data, models, kernels, optimizers, model files, metrics. No threads of its own.
        .target(name: "FNNCore", dependencies: ["FNNSystem", "FNNExecution", "COpenBLAS", "CGEMM", "CMemoryHints", "CZlib", "CZstd"],
                path: "Sources/FNNCore", swiftSettings: numericKernelSettings),
        // The data-parallel trainer: engines as phases over fixed slices, the reductions, the run.
        .target(name: "FNNTrainer", dependencies: ["FNNCore", "FNNExecution", "FNNSystem"],
                path: "Sources/FNNTrainer", swiftSettings: numericKernelSettings),
        // The multi-process communicator over MPI; nothing else calls MPI.
        .target(name: "FNNMPI", dependencies: ["CMPI", "FNNExecution", "FNNSystem"], path: "Sources/FNNMPI", swiftSettings: swiftSettings),
        // Arguments, the terminal, the files named on the command line.
        .executableTarget(
            name: "CLI",
            dependencies: ["FNNTrainer", "FNNCore", "FNNThreads", "FNNExecution", "FNNSystem", "FNNMPI", "CBuildInfo",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/CLI", swiftSettings: swiftSettings),

        // Test data, scratch directories and reference implementations shared by the test targets.
        .target(name: "TestSupport", dependencies: ["FNNCore", "FNNExecution", "FNNSystem"], path: "Tests/TestSupport", swiftSettings: numericKernelSettings),
        // Model files, checkpoints, the cache and schedules are also checked through short training
        // runs, so the numerics' tests may drive the trainer (never the other way round).
        .testTarget(name: "FNNCoreTests", dependencies: ["FNNCore", "FNNTrainer", "FNNThreads", "FNNExecution", "FNNSystem", "TestSupport"],
                    path: "Tests/FNNCoreTests",
                    // Read from the source tree by path (#filePath), not bundled.
                    exclude: ["Fixtures"], swiftSettings: numericKernelSettings),
        .testTarget(name: "FNNSystemTests", dependencies: ["FNNSystem"], path: "Tests/FNNSystemTests", swiftSettings: swiftSettings),
        .testTarget(name: "FNNExecutionTests", dependencies: ["FNNExecution"], path: "Tests/FNNExecutionTests",
                    swiftSettings: swiftSettings),
        .testTarget(name: "FNNThreadsTests", dependencies: ["FNNThreads", "FNNExecution", "TestSupport"],
                    path: "Tests/FNNThreadsTests", swiftSettings: swiftSettings),
        .testTarget(name: "FNNTrainerTests", dependencies: ["FNNTrainer", "FNNCore", "FNNThreads", "TestSupport"],
                    path: "Tests/FNNTrainerTests", swiftSettings: numericKernelSettings),
        // Runs the built `fnn-par`; depending on the executable makes `swift test` build it first.
        .testTarget(name: "CLITests", dependencies: ["CLI", "FNNCore", "TestSupport"], path: "Tests/CLITests", swiftSettings: swiftSettings),
    ]
)
