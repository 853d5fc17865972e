import FNNExecution
import FNNSystem
import Foundation

/// The binary cache of a text data set: the parsed examples (labels, then row-major 32-bit ids;
/// or, for variable rows, the field schema and the entries' offsets, fields, ids and values) and
/// the vocabularies, in a safetensors container. The first read of a text file writes it; later
/// runs map it into memory instead of parsing. It is tied to its source (size, modification time
/// and a fingerprint of its content) and to the preprocessing options, and is ignored, then
/// rewritten, when either changes. Written atomically, so a crash leaves no half cache.
public enum DatasetCache {
    public static let version = "3"

    /// What the cache must match: the source as it is now and how it was read.
    public struct Key: Equatable, Sendable {
        public var sourceSize: Int
        public var sourceModified: Int
        public var sourceFingerprint: UInt64
        /// Format and preprocessing options, e.g. "criteo min-count 10 vocab train seed 42".
        public var preprocessing: String

        public init(source path: String, preprocessing: String) throws(InputError) {
            let info: FileStatus
            do { info = try FileStatus.of(path) } catch { throw InputError(path: path, "cannot stat: \(error)") }
            sourceSize = info.size
            sourceModified = Int(info.modifiedNanoseconds)
            sourceFingerprint = try Self.fingerprint(path: path, size: sourceSize)
            self.preprocessing = preprocessing
        }

        /// FNV-1a over the first and last 64 KiB and the size: catches edits that keep the size
        /// and a restored modification time, without reading a large file.
        static func fingerprint(path: String, size: Int) throws(InputError) -> UInt64 {
            let file: FileDescriptor
            do { file = try .open(path, O_RDONLY) } catch { throw InputError(path: path, "cannot open: \(error)") }
            defer { file.close() }
            var hash = FNV1a(UInt64(size))
            var buffer = [UInt8](repeating: 0, count: 65536)
            for offset in Set([0, max(0, size - 65536)]).sorted() {
                let n = (try? file.read(into: &buffer, range: 0..<buffer.count, at: offset)) ?? 0
                for i in 0..<n { hash.add(buffer[i]) }
            }
            return hash.value
        }

        var metadata: [String: String] {
            ["source_size": String(sourceSize), "source_modified": String(sourceModified),
             "source_fingerprint": String(sourceFingerprint, radix: 16), "preprocessing": preprocessing]
        }
    }

    /// Where the cache of `source` lives: beside it, or in `directory` under a name derived from
    /// the source's absolute path.
    public static func path(for source: String, directory: String?) -> String {
        guard let directory else { return source + ".fnnpar-cache" }
        let absolute = URL(fileURLWithPath: source).standardizedFileURL.path
        var hash = FNV1a()
        for b in absolute.utf8 { hash.add(b) }
        let h = hash.value
        return directory + "/" + URL(fileURLWithPath: source).lastPathComponent + "-" + String(h, radix: 16) + ".fnnpar-cache"
    }

    /// The cached data set, mapped, if the cache exists and matches `key`; nil otherwise (a stale
    /// or unreadable cache is not an error: the caller parses the source again).
    public static let formatName = "fnn-par-data-cache"

    /// Whether `prefix` (a file's first bytes) starts an fnn-par data file or cache.
    public static func isDataFile(prefix: [UInt8]) -> Bool {
        guard prefix.count > 9, prefix[8] == UInt8(ascii: "{") else { return false }
        // Any 8 bytes are read as a length (a text file's too), so it is bounded before use.
        let length = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length > 0, length <= 100_000_000 else { return false }
        let header = prefix[8..<min(prefix.count, 8 + Int(length))]
        return String(decoding: header, as: UTF8.self).contains("\"\(formatName)\"")
    }

    /// A binary data file (`generate --out DATA.fnnpar`, or any cache file), mapped; no source to
    /// match.
    /// Its ids are checked against its field sizes (`validateIds`), in parallel with an executor.
    public static func open(path: String, executor: PhaseExecutor? = nil) throws(InputError) -> Dataset {
        guard let data = map(cache: path, key: nil, name: path) else {
            throw InputError(path: path, "not a readable fnn-par data file (damaged, truncated, or from another version)")
        }
        try data.validateIds(executor: executor)
        return data
    }

    /// The cached data set, or nil when there is no current cache: a cache whose ids do not fit
    /// its field sizes (damaged, or crafted) is no cache, and the source is parsed again.
    public static func load(cache: String, key: Key, name: String, executor: PhaseExecutor? = nil) -> Dataset? {
        guard let data = map(cache: cache, key: key, name: name), data.firstBadLabel() == nil,
              data.variable?.firstProblem(schema: data.schema, fieldDims: data.fieldDims) == nil,
              data.firstIdOutOfRange(executor: executor) == nil else { return nil }
        return data
    }

    /// `key` nil: any source (a standalone data file).
    static func map(cache: String, key: Key?, name: String) -> Dataset? {
        guard let mapped = try? MappedFile(path: cache), mapped.size >= 8 else { return nil }
        let rawLength = UInt64(littleEndian: mapped.base.loadUnaligned(as: UInt64.self))
        guard rawLength > 0, rawLength <= UInt64(mapped.size - 8) else { return nil }
        let headerLength = Int(rawLength)
        guard 8 + headerLength <= mapped.size,
              let header = try? JSONSerialization.jsonObject(
                with: Data(bytesNoCopy: mapped.base + 8, count: headerLength, deallocator: .none)) as? [String: Any],
              let meta = header["__metadata__"] as? [String: String],
              meta["format"] == formatName, meta["cache_version"] == version
        else { return nil }
        for (k, v) in key?.metadata ?? [:] where meta[k] != v { return nil }
        // Every size from the header is checked against the file before use: a damaged header must
        // read as "no cache", never point a view outside the mapping or overflow.
        let dataBytes = mapped.size - 8 - headerLength
        func within(_ o: [Int], bytes: Int?) -> Bool {
            guard o.count == 2, let bytes, o[0] >= 0, o[0] <= o[1], o[1] <= dataBytes else { return false }
            return o[1] - o[0] == bytes
        }
        func product(_ values: [Int]) -> Int? {
            var p = 1
            for v in values {
                guard v >= 0 else { return nil }
                let (q, overflow) = p.multipliedReportingOverflow(by: v)
                if overflow { return nil }
                p = q
            }
            return p
        }
        guard let dims = meta["field_dims"].flatMap({ try? JSONDecoder().decode([Int].self, from: Data($0.utf8)) }),
              let rows = meta["rows"].flatMap(Int.init), !dims.isEmpty, rows > 0, dims.allSatisfy({ $0 >= 1 }),
              let labels = header["labels"] as? [String: Any], let lo = labels["data_offsets"] as? [Int],
              within(lo, bytes: product([rows, 4]))
        else { return nil }
        let start = mapped.base + 8 + headerLength
        /// Tensor `name` as a view of `count` elements (nil: the count is unknown, taken from the
        /// tensor's size), or nil when absent, misplaced or misaligned.
        func view<T>(_ name: String, _ type: T.Type, count: Int?) -> AlignedBuffer<T>? {
            guard let entry = header[name] as? [String: Any], let o = entry["data_offsets"] as? [Int], o.count == 2,
                  o[0] >= 0, o[0] <= o[1], o[1] <= dataBytes, (o[1] - o[0]) % MemoryLayout<T>.stride == 0 else { return nil }
            let n = (o[1] - o[0]) / MemoryLayout<T>.stride
            guard count == nil || count == n, (start + o[0]).alignedUp(for: T.self) == start + o[0] else { return nil }
            return AlignedBuffer<T>(viewing: (start + o[0]).assumingMemoryBound(to: T.self), count: n, owner: mapped)
        }
        guard let labelBuffer = view("labels", Float.self, count: rows) else { return nil }
        var data: Dataset
        if let storedSchema = meta["field_schema"] {
            // Variable rows: entry offsets (I64), then the packed entries (id, field, value bits).
            guard let schema = FieldSchema.parse(stored: storedSchema, fieldCount: dims.count), rows < Int.max - 1,
                  let starts = view("entry_starts", Int.self, count: rows + 1),
                  let table = view("entry_table", VariableEntry.self, count: nil),
                  (header["entry_table"] as? [String: Any])?["shape"] as? [Int] == [table.count, 3]
            else { return nil }
            data = Dataset(name: name, fieldDims: dims, schema: schema, rows: VariableRows(starts: starts, table: table),
                           labels: labelBuffer)
        } else {
            guard let ids = header["ids"] as? [String: Any], let io = ids["data_offsets"] as? [Int],
                  within(io, bytes: product([rows, dims.count, 4])),
                  let idBuffer = view("ids", UInt32.self, count: rows * dims.count)
            else { return nil }
            data = Dataset(name: name, fieldDims: dims, rowCount: rows, ids: idBuffer, labels: labelBuffer)
        }
        data.hasLabels = meta["has_labels"] != "false"
        if let v = meta["held_out_validation_rows"].flatMap(Int.init), let t = meta["held_out_test_rows"].flatMap(Int.init) {
            guard v >= 0, t >= 0, v <= rows, t <= rows - v else { return nil }
            data.heldOut = HeldOutFiles(validationRows: v, testRows: t)
        }
        // The vocabulary tensors are copied out of the mapping (they become dictionaries anyway).
        var vocabularyFile = SafeTensors()
        for (name, value) in header where name.hasPrefix(Vocabulary.tensorPrefix) {
            guard let entry = value as? [String: Any], let dtype = (entry["dtype"] as? String).flatMap(SafeTensors.DType.init),
                  let shape = entry["shape"] as? [Int], let o = entry["data_offsets"] as? [Int], o.count == 2,
                  within(o, bytes: product(shape + [dtype.size]))
            else { return nil }
            vocabularyFile.tensors[name] = SafeTensors.Tensor(dtype: dtype, shape: shape) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: start + o[0], count: o[1] - o[0]))
            }
        }
        do { data.vocabulary = try Vocabulary(file: vocabularyFile, path: cache) } catch { return nil }
        return data
    }

    public static func store(_ data: Dataset, cache: String, key: Key?) throws {
        let ids = data.ids
        let extra = data.heldOut.map {
            ["held_out_validation_rows": String($0.validationRows), "held_out_test_rows": String($0.testRows)]
        } ?? [:]
        if let variable = data.variable {
            try storeVariable(data, variable, cache: cache, key: key, metadata: extra)
            return
        }
        try write(cache: cache, key: key, rowCount: data.rowCount, fieldDims: data.fieldDims, hasLabels: data.hasLabels,
                  vocabulary: data.vocabulary, labels: UnsafeBufferPointer(start: data.labels.base, count: data.rowCount),
                  metadata: extra) { out in
            // Straight from the data's memory: no copy of a data set that may be most of the RAM.
            try out.write(UnsafeRawBufferPointer(start: ids.base, count: data.rowCount * data.fieldCount * 4))
        }
    }

    /// Variable rows: the schema in the metadata, the entry offsets (I64) and the packed entries
    /// (U32 x 3: id, field, value's bits) as tensors. Tensors lie in name order, so
    /// `entry_starts` comes first (8-byte aligned) and the 4-byte ones after it.
    private static func storeVariable(_ data: Dataset, _ rows: VariableRows, cache: String, key: Key?,
                                      metadata extra: [String: String]) throws {
        func raw<T>(_ buffer: AlignedBuffer<T>) -> (AtomicFileWriter) throws -> Void {
            { out in try out.write(UnsafeRawBufferPointer(start: buffer.base, count: buffer.byteCount)) }
        }
        try writeVariable(cache: cache, key: key, rowCount: data.rowCount, entryCount: rows.entryCount, fieldDims: data.fieldDims,
                          schema: data.schema, hasLabels: data.hasLabels, vocabulary: data.vocabulary,
                          labels: UnsafeBufferPointer(start: data.labels.base, count: data.rowCount), metadata: extra,
                          writeStarts: raw(rows.starts), writeTable: raw(rows.table))
    }

    /// Writes a cache of variable rows whose rowCount + 1 offsets (Int) and entryCount packed
    /// entries (`VariableEntry`) the closures produce, in that order; the labels are read last.
    public static func writeVariable(
        cache: String, key: Key?, rowCount: Int, entryCount: Int, fieldDims: [Int], schema: FieldSchema, hasLabels: Bool,
        vocabulary: Vocabulary?, labels: UnsafeBufferPointer<Float>, metadata extra: [String: String] = [:],
        writeStarts: @escaping (AtomicFileWriter) throws -> Void, writeTable: @escaping (AtomicFileWriter) throws -> Void
    ) throws {
        var file = SafeTensors()
        file.metadata = extra.merging(key?.metadata ?? [:]) { _, b in b }
        file.metadata["format"] = formatName
        file.metadata["cache_version"] = version
        file.metadata["rows"] = String(rowCount)
        file.metadata["field_dims"] = String(decoding: try JSONEncoder().encode(fieldDims), as: UTF8.self)
        file.metadata["has_labels"] = hasLabels ? "true" : "false"
        file.metadata["field_schema"] = schema.storedForced
        if let v = vocabulary { file.tensors.merge(v.tensors()) { a, _ in a } }
        try file.write(path: cache, streamed: [
            .init(name: "entry_starts", dtype: .i64, shape: [rowCount + 1], write: writeStarts),
            .init(name: "entry_table", dtype: .u32, shape: [entryCount, 3], write: writeTable),
            .init(name: "labels", dtype: .f32, shape: [rowCount]) { out in try out.write(UnsafeRawBufferPointer(labels)) },
        ])
    }

    /// Writes a cache (or, with no key, a standalone data file) whose ids `writeIds` produces
    /// (rowCount x fieldDims.count UInt32, row-major). The ids are written before the labels are
    /// read, so `writeIds` may still be filling `labels`.
    public static func write(
        cache: String, key: Key?, rowCount: Int, fieldDims: [Int], hasLabels: Bool, vocabulary: Vocabulary?,
        labels: UnsafeBufferPointer<Float>, metadata extra: [String: String] = [:],
        writeIds: @escaping (AtomicFileWriter) throws -> Void
    ) throws {
        var file = SafeTensors()
        file.metadata = extra.merging(key?.metadata ?? [:]) { _, b in b }
        file.metadata["format"] = formatName
        file.metadata["cache_version"] = version
        file.metadata["rows"] = String(rowCount)
        file.metadata["field_dims"] = String(decoding: try JSONEncoder().encode(fieldDims), as: UTF8.self)
        file.metadata["has_labels"] = hasLabels ? "true" : "false"
        if let v = vocabulary { file.tensors.merge(v.tensors()) { a, _ in a } }
        try file.write(path: cache, streamed: [
            .init(name: "ids", dtype: .u32, shape: [rowCount, fieldDims.count], write: writeIds),
            .init(name: "labels", dtype: .f32, shape: [rowCount]) { out in try out.write(UnsafeRawBufferPointer(labels)) },
        ])
    }
}
