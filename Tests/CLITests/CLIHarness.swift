import Foundation
import TestSupport

/// Running the built `fnn-par` from a test: where it is, where the shared data is, a scratch
/// directory per test, and one run's status and output.
protocol CLIHarness {}

struct CLIResult { var status: Int32; var stdout: String; var stderr: String }

let cliBinary: String = {
    // The test bundle sits in the build products directory, next to the executable.
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [products.appendingPathComponent("fnn-par").path,
                      products.deletingLastPathComponent().appendingPathComponent("fnn-par").path]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}()

/// The shared real data sets (one lookup for every test target: `TestData`).
let sharedData = TestData.root

extension CLIHarness {
    typealias Result = CLIResult

    static var binary: String { cliBinary }
    static var data: String { sharedData }

    @discardableResult
    func run(_ arguments: [String], in directory: String, standardInput: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let standardInput { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: standardInput)) }
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func scratch() -> String {
        let path = NSTemporaryDirectory() + "fnn-par-cli-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Starts `executable` with `arguments` (in `directory`), standard output discarded, standard
    /// error piped back.
    func launch(_ executable: String, _ arguments: [String], in directory: String?) throws -> (process: Process, stderr: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, err)
    }

    /// Starts `fnn-par` with `arguments` in `directory`.
    func start(_ arguments: [String], in directory: String) throws -> (process: Process, stderr: Pipe) {
        try launch(Self.binary, arguments, in: directory)
    }

    /// Starts `/bin/sh -c command` (a feeder, a reader, a setup step).
    func startShell(_ command: String, in directory: String? = nil) throws -> (process: Process, stderr: Pipe) {
        try launch("/bin/sh", ["-c", command], in: directory)
    }

    /// Runs `/bin/sh -c command` to its end: its status and standard error.
    func shell(_ command: String, in directory: String? = nil) throws -> (status: Int32, stderr: String) {
        let (process, err) = try startShell(command, in: directory)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus, message)
    }

    /// What `pipe` carries until `text` has appeared in it (or it ends).
    func read(until text: String, from pipe: Pipe) -> String {
        var seen = ""
        while !seen.contains(text) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return seen
    }
}
