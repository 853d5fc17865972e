#if canImport(Glibc)
import Glibc
#endif

/// The one place fnn-par calls the file-descriptor POSIX functions (the swift-system way: each C
/// call wrapped once, typed, retried on EINTR, its failure carrying errno). Everything else in the
/// project names these, so a signal arriving mid-read (Ctrl-C is caught for checkpointing) never
/// turns into a spurious "cannot read", and every message spells the reason the same way.

/// A failed system call: errno at the moment it failed.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32

    public init(code: Int32) { self.code = code }

    /// errno now: read straight after the failing call, before anything else can change it.
    public static var current: SystemError { SystemError(code: errno) }

    /// The system's text for the error ("No such file or directory").
    public var description: String { String(cString: strerror(code)) }
}

/// What a path names, after following links.
public enum FileKind: Sendable, Equatable {
    case regular, directory
    /// A FIFO, character or block device, or socket: input that may be read only once, or never end.
    case stream
    case other
}

/// The facts fnn-par uses about an existing file.
public struct FileStatus: Sendable, Equatable {
    public let kind: FileKind
    public let size: Int
    public let device: UInt64
    public let inode: UInt64
    /// Last modification, in nanoseconds since the epoch.
    public let modifiedNanoseconds: Int64

    init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK: kind = .stream
        default: kind = .other
        }
        size = Int(info.st_size)
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    /// `path`'s status, following links.
    public static func of(_ path: String) throws(SystemError) -> FileStatus {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .current }
        return FileStatus(info)
    }

    /// An open file's status.
    public static func of(descriptor fd: Int32) throws(SystemError) -> FileStatus {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .current }
        return FileStatus(info)
    }

    /// Whether `path` is itself a symbolic link (not followed).
    public static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }
}

/// Whether `path` names an existing regular file (following links).
public func isRegularFile(_ path: String) -> Bool { (try? FileStatus.of(path))?.kind == .regular }

/// Whether `path` names a FIFO, a device or a socket (following links).
public func isPipeOrDevice(_ path: String) -> Bool { (try? FileStatus.of(path))?.kind == .stream }

/// Whether two paths name the same existing file (same device and inode).
public func sameFile(_ a: String, _ b: String) -> Bool {
    guard let x = try? FileStatus.of(a), let y = try? FileStatus.of(b) else { return false }
    return x.device == y.device && x.inode == y.inode
}

/// An open file descriptor's calls. A plain value: the owner closes it (`close()`), usually in a
/// `defer` right after opening.
public struct FileDescriptor: Sendable, Equatable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)

    /// Opens `path` (O_CLOEXEC always added), retrying when a signal interrupts the call.
    public static func open(_ path: String, _ flags: Int32, permissions: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, permissions)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            if errno != EINTR { throw .current }
        }
    }

    /// Opens `path` read-only.
    public static func openForReading(_ path: String) throws(SystemError) -> FileDescriptor { try open(path, O_RDONLY) }

    /// A new file with a unique name from `prefix` (mkstemp: a name a killed run left behind
    /// blocks nothing), open for writing; its path.
    public static func makeTemporary(prefix: String) throws(SystemError) -> (FileDescriptor, String) {
        var template = Array("\(prefix)XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .current }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return (FileDescriptor(rawValue: fd), template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// Up to `buffer.count` bytes (0 at the end of the file), retrying on EINTR.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        while true {
            let n = Glibc.read(rawValue, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw .current }
        }
    }

    /// Up to `buffer.count` bytes from `offset`, leaving the file position alone; retrying on EINTR.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SystemError) -> Int {
        while true {
            let n = pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw .current }
        }
    }

    /// Fills `buffer` unless the file ends first; the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// All of `bytes`, through partial writes and EINTR.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .current
            }
            done += n
        }
    }

    /// All of `bytes` at `offset` (pwrite), the file position unchanged.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .current
            }
            done += n
        }
    }

    /// Reads into `bytes[range]`; the count read (0 at the end of the file).
    public func read(into bytes: inout [UInt8], range: Range<Int>, at offset: Int? = nil) throws(SystemError) -> Int {
        let result: Result<Int, SystemError> = bytes.withUnsafeMutableBytes { all in
            let part = UnsafeMutableRawBufferPointer(rebasing: all[range])
            do throws(SystemError) {
                if let offset { return .success(try read(into: part, at: offset)) }
                return .success(try read(into: part))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Writes `bytes[range]` whole.
    public func writeAll(_ bytes: [UInt8], range: Range<Int>) throws(SystemError) {
        let result: Result<Void, SystemError> = bytes.withUnsafeBytes { all in
            do throws(SystemError) { try writeAll(UnsafeRawBufferPointer(rebasing: all[range])); return .success(()) } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Flushes the file's data to the device.
    public func synchronize() throws(SystemError) {
        while fsync(rawValue) != 0 {
            if errno != EINTR { throw .current }
        }
    }

    public func status() throws(SystemError) -> FileStatus { try FileStatus.of(descriptor: rawValue) }
}

/// Removes `path` (a file, not a directory); whether it was removed.
@discardableResult
public func removeFile(_ path: String) -> Bool { unlink(path) == 0 }

/// Whether `path` is a directory (following links).
public func isDirectory(_ path: String) -> Bool { (try? FileStatus.of(path))?.kind == .directory }

/// Creates directory `path` (mode 0755); an existing directory is fine.
public func makeDirectory(_ path: String) throws(SystemError) {
    guard mkdir(path, 0o755) == 0 || (errno == EEXIST && isDirectory(path)) else { throw .current }
}

/// Removes the empty directory `path`; whether it was removed.
@discardableResult
public func removeDirectory(_ path: String) -> Bool { rmdir(path) == 0 }

/// The names in directory `path` (without "." and ".."), or nil when it cannot be read.
public func directoryEntries(_ path: String) -> [String]? {
    guard let stream = opendir(path) else { return nil }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Renames `from` to `to`, replacing `to` atomically.
public func renameFile(_ from: String, to: String) throws(SystemError) {
    guard rename(from, to) == 0 else { throw .current }
}

/// Whether this process may write in `directory` (or to `path`).
public func isWritable(_ path: String) throws(SystemError) {
    guard access(path, W_OK) == 0 else { throw .current }
}

/// The canonical absolute path (links resolved), or nil when it cannot be resolved.
public func resolvedPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The directory for temporary files: TMPDIR, else /tmp.
public var temporaryFilesDirectory: String {
    getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
}

/// Bytes of physical memory on this machine.
public var physicalMemoryBytes: Int {
    Int(Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE))))
}

/// The virtual-memory page size.
public var pageBytes: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

/// The cache line of every x86-64 and most ARM64 server parts: per-thread slots and buffer
/// starts are aligned to it so that no two writers share a line (false sharing costs more than
/// the padding).
public let cacheLineBytes = 64

/// Replaces this process with a fresh run of the same executable and arguments (the environment
/// as now); returns only if that fails. The executable's own path, not /proc/self/exe, so the
/// process keeps its name.
public func replaceProcessWithSameExecutable() {
    var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &path, Int(PATH_MAX))
    guard length > 0 else { return }
    _ = execv(path, CommandLine.unsafeArgv)
}

/// Sets an environment variable for this process and what it starts; whether it was set.
public func setEnvironment(_ name: String, _ value: String) -> Bool { setenv(name, value, 1) == 0 }

/// An environment variable's value, if set.
public func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

/// Whether standard error is a terminal (a live progress line is drawn only there).
public var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

/// Seconds on the monotonic clock (never steps back with the wall clock), for phase timings.
@inline(__always)
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// This process's id (temporary names that must not clash with another run's).
public var processID: Int32 { getpid() }

/// This machine's host name ("?" when it cannot be read).
public var hostName: String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "?" }
    return String(cString: buffer)
}

/// Runs `body` when the process exits normally (after `main` returns or `exit` is called).
public func runAtExit(_ body: @escaping @convention(c) () -> Void) { atexit(body) }
