import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `--data -`: standard input (a pipe from zcat, a query, another tool) is copied once, a
/// megabyte at a time, to a temporary file, which the readers then treat as any file: format
/// detection looks at its start, parsing cuts it into chunks for the workers, binary data is
/// mapped. The copy is removed when `body` returns (a mapping made from it stays valid). Text
/// read this way is never cached: its cache would be keyed to a temporary file.
func withStandardInputSaved<T>(_ path: String, log: Log, _ body: (String) throws -> T) throws -> T {
    guard path == "-" else { return try body(path) }
    let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    // A fresh unique name (mkstemp), so that a file a killed run left behind blocks nothing.
    var template = Array("\(directory)/fnn-par-stdin-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
        throw CLIError("cannot save standard input in \(directory): \(String(cString: strerror(errno))) (set TMPDIR to a writable directory)")
    }
    let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    defer { unlink(temporary) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var total = 0
    do {
        defer { close(fd) }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw CLIError("cannot save standard input to \(temporary): \(String(cString: strerror(errno)))")
                }
                done += w
            }
            total += n
        }
    }
    guard total > 0 else { throw CLIError("standard input (--data -) is empty: no data rows") }
    log.say(String(format: "read %.1f MB from standard input (kept in %@ while it is read)", Double(total) / 1e6, temporary))
    return try body(temporary)
}
