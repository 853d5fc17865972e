#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct FileWriteError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// Writes to a temporary name beside `path`, fsyncs, then renames over it, so a reader (or a
/// crash) never sees a half-written file.
public func writeFileAtomically(path: String, bytes: [UInt8]) throws {
    try writeFileAtomically(path: path) { file in
        try bytes.withUnsafeBytes { raw in try file.write(raw) }
    }
}

/// The same for content too large to assemble in memory: `body` writes it in pieces.
///
/// A target that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO, a
/// terminal) is written in place: renaming over it would replace a device node or pipe with a
/// regular file (as root, `/dev/null` itself), and such targets have no torn state to avoid.
public func writeFileAtomically(path requested: String, body: (AtomicFileWriter) throws -> Void) throws {
    // Through a symbolic link (/dev/stdout -> /proc/self/fd/1 -> a file or a pipe) the write goes
    // to what the link names, never by renaming over the link itself.
    var path = requested
    if FileStatus.isSymbolicLink(requested), let resolved = resolvedPath(requested) { path = resolved }
    if let info = try? FileStatus.of(path), info.kind != .regular, info.kind != .directory {
        let file: FileDescriptor
        do { file = try .open(path, O_WRONLY) } catch {
            throw FileWriteError(path: path, message: "cannot open for writing: \(error)")
        }
        defer { file.close() }
        try body(AtomicFileWriter(file: file, path: path))
        return
    }
    removeStaleTemporaries(of: path)
    let temporary = "\(path).tmp-\(getpid())"
    let file: FileDescriptor
    do { file = try .open(temporary, O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o644) } catch {
        throw FileWriteError(path: path, message: "cannot create \(temporary): \(error)")
    }
    let writer = AtomicFileWriter(file: file, path: path)
    do {
        try body(writer)
        do { try file.synchronize() } catch { throw FileWriteError(path: path, message: "cannot write: \(error)") }
    } catch {
        file.close(); removeFile(temporary)
        throw error
    }
    file.close()
    do { try renameFile(temporary, to: path) } catch {
        removeFile(temporary)
        throw FileWriteError(path: path, message: "cannot rename \(temporary) into place: \(error)")
    }
    // The rename is durable only once the directory entry is on disk.
    if let directory = try? FileDescriptor.open(parentDirectory(of: path), O_RDONLY | O_DIRECTORY) {
        try? directory.synchronize()
        directory.close()
    }
}

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// A run killed while writing (SIGKILL, power loss) leaves its `PATH.tmp-PID` behind; the next
/// write of PATH removes those whose process no longer exists (a live writer's is left alone).
func removeStaleTemporaries(of path: String) {
    let directory = parentDirectory(of: path)
    let prefix = String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...]) + ".tmp-"
    guard let stream = opendir(directory) else { return }
    defer { closedir(stream) }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid > 0, pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { removeFile(directory + "/" + name) }
    }
}

/// The open temporary file of `writeFileAtomically`, written front to back.
public final class AtomicFileWriter {
    let file: FileDescriptor
    let path: String
    public private(set) var offset = 0
    /// Sees every byte written front to back (a digest computed as the bytes go by).
    public var observer: ((UnsafeRawBufferPointer) -> Void)?

    package init(file: FileDescriptor, path: String) { self.file = file; self.path = path }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do { try file.writeAll(bytes) } catch { throw FileWriteError(path: path, message: "cannot write: \(error)") }
        observer?(bytes)
        offset += bytes.count
    }

    /// Rewrites bytes already written (a header whose content was only known at the end), before
    /// the file is synchronised and renamed into place.
    public func rewrite(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
        precondition(position >= 0 && position + bytes.count <= offset)
        do { try file.writeAll(bytes, at: position) } catch { throw FileWriteError(path: path, message: "cannot write: \(error)") }
    }
}
