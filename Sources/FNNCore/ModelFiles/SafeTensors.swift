import FNNSystem
import Foundation

/// The safetensors container (Hugging Face's format, which `safetensors.torch.load_file` reads):
/// an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
/// range, an optional `__metadata__` map of strings, then the raw little-endian tensor bytes.
public struct SafeTensors {
    public enum DType: String, Sendable {
        case f32 = "F32"
        case i64 = "I64"
        case u32 = "U32"
        case u8 = "U8"

        public var size: Int {
            switch self {
            case .i64: return 8
            case .f32, .u32: return 4
            case .u8: return 1
            }
        }
    }

    public struct Tensor {
        public var dtype: DType
        public var shape: [Int]

        /// Where the bytes are: in an array, or in the mapped file they were read from (a model
        /// read for scoring is copied from the mapping into its buffers a piece at a time, the
        /// pieces' pages handed back as it goes, so the file never sits in memory beside the model).
        ///
        /// A checkpoint's tensors are the model's and optimizer's own memory, not copies: viewed
        /// in place (`borrowed`), or, where a row's values must be gathered from its record,
        /// made a block of rows at a time as the file is written (`generated`). Copied, every
        /// checkpoint of a large table needed the table and its optimizer state a second time
        /// (the whole-table Adam run of `MultiRankTests` fell over its memory limit there).
        enum Storage {
            case owned([UInt8])
            case mapped(MappedFile, offset: Int, count: Int)
            /// Memory `owner` keeps alive (a model's or optimizer's buffer); the bytes are its
            /// contents when read.
            case borrowed(owner: AnyObject, start: UnsafeRawPointer, count: Int)
            /// `rows` rows of `rowBytes`, made when read: `fill` writes rows `range` into a buffer
            /// of exactly their bytes.
            case generated(rows: Int, rowBytes: Int, fill: (Range<Int>, UnsafeMutableRawBufferPointer) -> Void)
        }

        /// Rows per block of a generated tensor: about 8 MB.
        package static func blockRows(rowBytes: Int) -> Int { max(1, (8 << 20) / max(1, rowBytes)) }
        var storage: Storage

        /// Raw little-endian bytes (a copy, for a mapped tensor: prefer `withUnsafeBytes`).
        public var bytes: [UInt8] {
            get {
                switch storage {
                case .owned(let bytes): return bytes
                case .mapped(let file, let offset, let count): return Array(UnsafeRawBufferPointer(start: file.base + offset, count: count))
                case .borrowed(_, let start, let count): return Array(UnsafeRawBufferPointer(start: start, count: count))
                case .generated: return withUnsafeBytes { Array($0) }
                }
            }
            set { storage = .owned(newValue) }
        }

        public var byteCount: Int {
            switch storage {
            case .owned(let bytes): return bytes.count
            case .mapped(_, _, let count), .borrowed(_, _, let count): return count
            case .generated(let rows, let rowBytes, _): return rows * rowBytes
            }
        }

        /// The raw bytes in place, valid inside `body` (a generated tensor's made whole first:
        /// writers and digests go through `forEachPiece`).
        public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch storage {
            case .owned(let bytes): return try bytes.withUnsafeBytes(body)
            case .mapped(let file, let offset, let count): return try body(UnsafeRawBufferPointer(start: file.base + offset, count: count))
            case .borrowed(_, let start, let count): return try body(UnsafeRawBufferPointer(start: start, count: count))
            case .generated(let rows, let rowBytes, let fill):
                let whole = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, rows * rowBytes), alignment: 64)
                defer { whole.deallocate() }
                let bytes = UnsafeMutableRawBufferPointer(rebasing: whole[0..<(rows * rowBytes)])
                fill(0..<rows, bytes)
                return try body(UnsafeRawBufferPointer(bytes))
            }
        }

        /// The raw bytes in order, a piece at a time, so a large tensor is never whole in memory
        /// twice: a generated tensor's in blocks of rows, a mapped one's 8 MB at a time with each
        /// piece's pages handed back after it, any other's at once.
        public func forEachPiece(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            switch storage {
            case .generated(let rows, let rowBytes, let fill):
                let block = Self.blockRows(rowBytes: rowBytes)
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(rows, block) * rowBytes), alignment: 64)
                defer { scratch.deallocate() }
                var first = 0
                while first < rows {
                    let end = min(rows, first + block)
                    let piece = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<((end - first) * rowBytes)])
                    fill(first..<end, piece)
                    try body(UnsafeRawBufferPointer(piece))
                    first = end
                }
            case .mapped(let file, let offset, let count):
                var done = 0
                while done < count {
                    let n = min(8 << 20, count - done)
                    try body(UnsafeRawBufferPointer(start: file.base + offset + done, count: n))
                    file.releasePages((offset + done)..<(offset + done + n))
                    done += n
                }
            case .owned, .borrowed:
                try withUnsafeBytes(body)
            }
        }

        /// A mapped tensor's pages within bytes `range` of it back to the kernel; nothing for any other.
        func releasePages(bytes range: Range<Int>) {
            if case .mapped(let file, let offset, _) = storage { file.releasePages((offset + range.lowerBound)..<(offset + range.upperBound)) }
        }

        /// Hands a mapped tensor's pages back to the kernel (read again from the file if touched);
        /// nothing for one in an array.
        public func releasePages() {
            if case .mapped(let file, let offset, let count) = storage { file.releasePages(offset..<(offset + count)) }
        }

        public var elementCount: Int { shape.reduce(1, *) }

        /// `buffer`'s floats from `offset` on, viewed in place (the tensor keeps the buffer alive).
        public init(viewing buffer: AlignedBuffer<Float>, offset: Int = 0, shape: [Int]) {
            let count = shape.reduce(1, *)
            precondition(offset >= 0 && offset + count <= buffer.count)
            dtype = .f32
            self.shape = shape
            storage = .borrowed(owner: buffer, start: UnsafeRawPointer(buffer.pointer(at: offset)), count: count * 4)
        }

        /// A tensor of `shape` (rows first) whose rows `fill` writes when the tensor is read or
        /// written, a block at a time: for values gathered from another layout, never held whole.
        public init(dtype: DType, shape: [Int], fillRows fill: @escaping (Range<Int>, UnsafeMutableRawBufferPointer) -> Void) {
            precondition(!shape.isEmpty)
            self.dtype = dtype
            self.shape = shape
            let rows = shape[0]
            storage = .generated(rows: rows, rowBytes: rows == 0 ? 0 : shape.reduce(1, *) * dtype.size / rows, fill: fill)
        }

        public init(floats: UnsafeBufferPointer<Float>, shape: [Int]) {
            precondition(floats.count == shape.reduce(1, *))
            dtype = .f32
            self.shape = shape
            storage = .owned(Array(UnsafeRawBufferPointer(floats)))
        }

        public init(floats: [Float], shape: [Int]) {
            self = floats.withUnsafeBufferPointer { Tensor(floats: $0, shape: shape) }
        }

        public init(uint32s: UnsafeBufferPointer<UInt32>, shape: [Int]) {
            precondition(uint32s.count == shape.reduce(1, *))
            dtype = .u32
            self.shape = shape
            storage = .owned(Array(UnsafeRawBufferPointer(uint32s)))
        }

        /// A tensor whose `byteCount` bytes `fill` writes in place: for values that must be gathered
        /// from another layout, without an intermediate array as large as the tensor.
        public init(dtype: DType, shape: [Int], fill: (UnsafeMutableRawBufferPointer) -> Void) {
            self.dtype = dtype
            self.shape = shape
            let byteCount = shape.reduce(1, *) * dtype.size
            storage = .owned([UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                raw.initializeMemory(as: UInt8.self, repeating: 0)
                fill(raw)
                initialized = byteCount
            })
        }

        /// Copies the values into `destination` (which must hold `elementCount` values).
        public func copyUInt32s(into destination: UnsafeMutablePointer<UInt32>) {
            precondition(dtype == .u32)
            withUnsafeBytes { raw in
                UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress!, byteCount: elementCount * 4)
            }
        }

        public init(int64 value: Int64, shape: [Int] = []) {
            dtype = .i64
            self.shape = shape
            storage = .owned(Swift.withUnsafeBytes(of: value.littleEndian) { Array($0) })
        }

        public var floats: [Float] {
            precondition(dtype == .f32)
            return withUnsafeBytes { raw in (0..<elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        }

        /// Copies the values into `destination` (which must hold `elementCount` floats), a piece
        /// at a time (`forEachPiece`): from a mapping, each piece's pages handed back after it, so
        /// a large table is never resident twice.
        public func copyFloats(into destination: UnsafeMutablePointer<Float>) {
            precondition(dtype == .f32)
            var done = 0
            forEachPiece { piece in
                guard let bytes = piece.baseAddress else { return }
                (UnsafeMutableRawPointer(destination) + done).copyMemory(from: bytes, byteCount: piece.count)
                done += piece.count
            }
        }

        /// Copies the rows (first dimension) that `shard` holds into `destination`, in the
        /// shard's local order; the tensor must have `shard.tableRows` rows. A block at a time,
        /// as `rows(of:)` makes them.
        public func copyRows(of shard: TableShard, into destination: UnsafeMutableRawPointer) {
            precondition(shape.first == shard.tableRows)
            var done = 0
            rows(of: shard).forEachPiece { piece in
                guard let bytes = piece.baseAddress else { return }
                (destination + done).copyMemory(from: bytes, byteCount: piece.count)
                done += piece.count
            }
        }

        /// The rows `shard` holds, as a tensor of `shard.localRows` rows (the whole tensor for a
        /// whole-table shard). Made a block of rows at a time when read, the block's pages of a
        /// mapping handed back after it: a resume of a whole-table checkpoint on several ranks
        /// holds no copy.
        public func rows(of shard: TableShard) -> Tensor {
            if shard.isWholeTable { return self }
            precondition(shape.first == shard.tableRows)
            var localShape = shape
            localShape[0] = shard.localRows
            let rowBytes = shard.tableRows == 0 ? 0 : byteCount / shard.tableRows
            return Tensor(dtype: dtype, shape: localShape) { range, out in
                withUnsafeBytes { raw in
                    for l in range {
                        (out.baseAddress! + (l - range.lowerBound) * rowBytes).copyMemory(
                            from: raw.baseAddress! + shard.globalRow(ofLocal: l) * rowBytes, byteCount: rowBytes)
                    }
                }
                let first = shard.globalRow(ofLocal: range.lowerBound) * rowBytes
                releasePages(bytes: first..<(shard.globalRow(ofLocal: range.upperBound - 1) * rowBytes + rowBytes))
            }
        }

        public init(int64s values: [Int64]) {
            dtype = .i64
            shape = [values.count]
            storage = .owned(values.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) })
        }

        /// The values of a 1-D I64 tensor; nil for any other.
        public var int64s: [Int64]? {
            guard dtype == .i64, shape.count == 1 else { return nil }
            return withUnsafeBytes { raw in (0..<elementCount).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
        }

        public var int64: Int64 {
            precondition(dtype == .i64 && elementCount == 1)
            return withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
        }
    }

    public var tensors: [String: Tensor] = [:]
    public var metadata: [String: String] = [:]

    public init() {}

    public func serialized() -> [UInt8] {
        let (header, order) = framedHeader(streamed: [])
        var out = header
        for name in order { out += tensors[name]!.bytes }
        return out
    }

    /// The 8-byte length and the JSON header (padded to a multiple of 8) for the tensors of `self`
    /// and `streamed`, and the tensor names in the order their data follows.
    private func framedHeader(streamed: [StreamedTensor], paddedTo length: Int? = nil) -> (bytes: [UInt8], order: [String]) {
        var entries: [(name: String, dtype: DType, shape: [Int], bytes: Int)] =
            tensors.map { ($0.key, $0.value.dtype, $0.value.shape, $0.value.byteCount) }
        entries += streamed.map { ($0.name, $0.dtype, $0.shape, $0.shape.reduce(1, *) * $0.dtype.size) }
        entries.sort { $0.name < $1.name }
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for e in entries {
            parts.append("\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.bytes)]}")
            offset += e.bytes
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 || header.count < (length ?? 0) { header.append(0x20) }
        return (withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header, entries.map(\.name))
    }

    /// Parses and validates a whole file's bytes; every problem is a `ModelFileError` naming it.
    public static func parse(_ bytes: [UInt8], path: String) throws(ModelFileError) -> SafeTensors {
        let result: Result<SafeTensors, ModelFileError> = bytes.withUnsafeBytes { raw in
            do throws(ModelFileError) {
                return .success(try parse(raw, path: path) { start, count in .owned(Array(raw[start..<(start + count)])) })
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses `bytes`; `storage` says where the tensor at byte `start`, `count` long, is kept.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String,
                      storage: (_ start: Int, _ count: Int) -> Tensor.Storage) throws(ModelFileError) -> SafeTensors {
        guard bytes.count >= 8 else {
            throw ModelFileError(path: path, bytes.isEmpty ? "empty file, not a model" : "truncated: \(bytes.count) bytes, too short for a safetensors header")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength >= 2, headerLength <= 100_000_000 else {
            throw ModelFileError(path: path, "not a safetensors model file (implausible header length \(headerLength))")
        }
        guard 8 + Int(headerLength) <= bytes.count else {
            throw ModelFileError(path: path, "truncated: the header says \(headerLength) bytes, the file has \(bytes.count - 8) after its length")
        }
        let headerData = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + Int(headerLength))]))
        guard bytes[8] == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any]
        else {
            throw ModelFileError(path: path, "not a safetensors model file (its header is not a JSON object)")
        }
        var result = SafeTensors()
        let dataStart = 8 + Int(headerLength)
        let dataCount = bytes.count - dataStart
        var covered = 0
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw ModelFileError(path: path, "corrupt header: __metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw ModelFileError(path: path, "corrupt header: metadata '\(k)' is not a string") }
                    result.metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw ModelFileError(path: path, "corrupt header: tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw ModelFileError(path: path, "tensor '\(name)' has dtype \(dtypeName); fnn-par reads F32, I64, U32 and U8 tensors")
            }
            var elements = 1
            var overflow = false
            for d in shape {
                let (product, o) = elements.multipliedReportingOverflow(by: d)
                elements = product
                overflow = overflow || o
            }
            guard !overflow, shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1],
                  elements <= Int.max / 8, offsets[1] - offsets[0] == elements * dtype.size
            else { throw ModelFileError(path: path, "corrupt header: tensor '\(name)' has a shape that does not match its byte range") }
            guard offsets[1] <= dataCount else {
                throw ModelFileError(path: path, "truncated: tensor '\(name)' ends at byte \(offsets[1]) of a \(dataCount)-byte data section")
            }
            covered += offsets[1] - offsets[0]
            let start = dataStart + offsets[0]
            result.tensors[name] = Tensor(dtype: dtype, shape: shape, storage: storage(start, offsets[1] - offsets[0]))
        }
        guard covered <= dataCount else { throw ModelFileError(path: path, "corrupt: tensors overlap") }
        return result
    }

    /// Reads a file by mapping it: tensors stay in the mapping until copied out (`copyFloats`
    /// hands the pages back as it goes). Anything but a regular file large enough to hold a
    /// header is read whole, for the same checks and messages.
    public static func read(path: String) throws(ModelFileError) -> SafeTensors {
        if let status = try? FileStatus.of(path), status.kind == .regular, status.size >= 8 {
            let mapped: MappedFile
            do { mapped = try MappedFile(path: path) } catch { throw ModelFileError(path: path, error.message) }
            return try parse(UnsafeRawBufferPointer(start: mapped.base, count: mapped.size), path: path) { start, count in
                .mapped(mapped, offset: start, count: count)
            }
        }
        let bytes: [UInt8]
        do { bytes = try readFileBytes(path) } catch { throw ModelFileError(path: path, error.message) }
        return try parse(bytes, path: path)
    }

    /// Writes the file atomically, each tensor's bytes straight from where they are (no copy of
    /// the whole file in memory).
    public func write(path: String) throws {
        try write(path: path, streamed: [])
    }

    /// A tensor written straight from memory the caller owns, without a copy: for data files of
    /// gigabytes, which `write` would first assemble in memory twice over.
    public struct StreamedTensor {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Writes exactly elementCount * dtype.size bytes.
        public var write: (AtomicFileWriter) throws -> Void

        public init(name: String, dtype: DType, shape: [Int], write: @escaping (AtomicFileWriter) throws -> Void) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.write = write
        }
    }

    /// Writes `metadata`, the tensors of `self` and `streamed` (atomically). The header is
    /// computed from shapes alone, so nothing but the in-memory tensors is held. With
    /// `recordingDigest` the content digest of every tensor, streamed ones included, is computed
    /// as they are written and put into the header at the end (the digest's text is at most 16
    /// characters: the header is first written with room for that many and padded after).
    public func write(path: String, streamed: [StreamedTensor], recordingDigest: Bool = false) throws {
        var provisional = self
        if recordingDigest { provisional.metadata[Self.digestKey] = String(repeating: "0", count: 16) }
        let (header, order) = provisional.framedHeader(streamed: streamed)
        let byName = Dictionary(uniqueKeysWithValues: streamed.map { ($0.name, $0) })
        try writeFileAtomically(path: path) { file in
            try header.withUnsafeBytes { try file.write($0) }
            let dataStart = file.offset
            var expected = 0
            var hasher = ContentHasher()
            for name in order {
                let dtype = tensors[name]?.dtype ?? byName[name]!.dtype, shape = tensors[name]?.shape ?? byName[name]!.shape
                if recordingDigest {
                    hasher.beginTensor(name: name, dtype: dtype, shape: shape)
                    file.observer = { hasher.absorb($0) }
                }
                if let t = tensors[name] {
                    try t.forEachPiece { try file.write($0) }
                    expected += t.byteCount
                } else {
                    let streamedTensor = byName[name]!
                    try streamedTensor.write(file)
                    expected += streamedTensor.shape.reduce(1, *) * streamedTensor.dtype.size
                }
                file.observer = nil
                if recordingDigest { hasher.endTensor() }
                guard file.offset - dataStart == expected else {
                    throw FileWriteError(path: path, message: "tensor '\(name)' wrote \(file.offset - dataStart - expected) bytes too many or too few")
                }
            }
            if recordingDigest {
                var final = self
                final.metadata[Self.digestKey] = hasher.digest
                let (rewritten, _) = final.framedHeader(streamed: streamed, paddedTo: header.count - 8)
                precondition(rewritten.count == header.count)
                try rewritten.withUnsafeBytes { try file.rewrite($0, at: 0) }
            }
        }
    }
}

extension SafeTensors.Tensor {
    init(dtype: SafeTensors.DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        storage = .owned(bytes)
    }

    init(dtype: SafeTensors.DType, shape: [Int], storage: Storage) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }
}

/// A problem with a model or checkpoint file, in one line.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public init(path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
