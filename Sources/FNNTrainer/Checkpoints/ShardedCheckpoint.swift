import FNNCore
import FNNExecution
import FNNSystem
import Foundation

/// A checkpoint of a run whose tables are sharded across ranks: a directory holding one
/// safetensors file per rank (that rank's rows of every row tensor, and the whole of everything
/// else, as `Checkpoint` writes it) and `manifest.json`, written last and atomically, naming the
/// shard files. Rank 0 never holds the others' rows.
///
/// Each write is a new generation of shard files (`shard-R-of-N.gG.safetensors`); the manifest
/// switches to it only once every rank's file is on disk, and the previous generation is removed
/// after. A run killed while writing leaves the last manifest and its files as they were, so the
/// last checkpoint stays valid.
///
/// A resume with any number of ranks, sharded or not, reads the manifest and takes each row it
/// holds from the shard that held it (`rows(of:in:for:path:)`): row g of N shards lies in shard
/// g mod N at local row g / N.
public enum ShardedCheckpoint {
    public static let manifestName = "manifest.json"
    public static let formatName = "fnn-par-sharded-checkpoint"

    struct Manifest: Codable {
        var format: String
        var checkpointVersion: String
        var ranks: Int
        var generation: Int
        var shards: [String]
    }

    /// Whether `path` names a sharded checkpoint (a directory).
    public static func isSharded(_ path: String) -> Bool { isDirectory(path) }

    static func shardName(rank: Int, ranks: Int, generation: Int) -> String {
        "shard-\(rank)-of-\(ranks).g\(generation).safetensors"
    }

    static func manifest(at directory: String) throws(ModelFileError) -> Manifest {
        let path = directory + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path: directory, "not a checkpoint: a directory without a readable \(manifestName) (a sharded checkpoint whose first write did not finish?)")
        }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: data), manifest.format == formatName,
              manifest.ranks >= 1, manifest.ranks <= 1 << 16, manifest.shards.count == manifest.ranks,
              manifest.shards.allSatisfy({ !$0.contains("/") && !$0.hasPrefix(".") })
        else { throw ModelFileError(path: path, "corrupt sharded-checkpoint manifest") }
        return manifest
    }

    /// Every shard of the checkpoint in `directory`, in rank order, each checked against its
    /// digest and against the manifest.
    static func shards(at directory: String) throws(ModelFileError) -> [SafeTensors] {
        let manifest = try manifest(at: directory)
        guard manifest.checkpointVersion == Checkpoint.version else {
            throw ModelFileError(path: directory, "checkpoint version \(manifest.checkpointVersion) was written by another fnn-par; this one resumes version \(Checkpoint.version)")
        }
        var shards: [SafeTensors] = []
        for (rank, name) in manifest.shards.enumerated() {
            let path = directory + "/" + name
            let shard = try SafeTensors.read(path: path)
            try shard.verifyDigest(path: path)
            guard shard.metadata["shard"] == "\(rank) of \(manifest.ranks)" else {
                throw ModelFileError(path: path, "is not shard \(rank) of \(manifest.ranks), as the manifest says")
            }
            shards.append(shard)
        }
        return shards
    }

    /// Row tensor `name` for `shard`, taken row by row from `sources` (N shards, or one whole
    /// file).
    static func rows(of name: String, in sources: [SafeTensors], for shard: TableShard, path: String) throws(ModelFileError) -> SafeTensors.Tensor {
        let n = sources.count
        var parts: [SafeTensors.Tensor] = []
        for (q, source) in sources.enumerated() {
            guard let t = source.tensors[name], let first = t.shape.first,
                  first == TableShard.rows(of: q, ranks: n, tableRows: shard.tableRows),
                  t.shape.count >= 1, t.shape == parts.first.map({ [first] + $0.shape.dropFirst() }) ?? t.shape
            else { throw ModelFileError(path: path, "corrupt checkpoint: '\(name)' is missing or misshapen in shard \(q) of \(n)") }
            parts.append(t)
        }
        if n == 1 { return parts[0].rows(of: shard) }
        let rowElements = parts[0].shape.dropFirst().reduce(1, *)
        let rowBytes = rowElements * parts[0].dtype.size
        var shape = parts[0].shape
        shape[0] = shard.localRows
        let source = TableShard(tableRows: shard.tableRows, rank: 0, ranks: n)
        // Made a block of rows at a time when read (`SafeTensors.Tensor(fillRows:)`): a resume
        // under another rank count loads its parameters a block at a time and its optimizer's
        // tensors one at a time, never a second copy of its rank's whole state.
        return SafeTensors.Tensor(dtype: parts[0].dtype, shape: shape) { range, out in
            // Each shard's bytes in place (mapped): one copy per row.
            var bases: [UnsafeRawPointer] = []
            func collect(_ q: Int) {
                if q == n {
                    for l in range {
                        let g = shard.globalRow(ofLocal: l)
                        (out.baseAddress! + (l - range.lowerBound) * rowBytes).copyMemory(
                            from: bases[source.owner(of: g)] + source.localRow(of: g) * rowBytes, byteCount: rowBytes)
                    }
                    // The block's source pages go back (a block of local rows reads one contiguous
                    // run of each shard's rows): the shards are never resident whole.
                    for part in parts { part.releasePages() }
                    return
                }
                parts[q].withUnsafeBytes { raw in
                    bases.append(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                    collect(q + 1)
                }
            }
            collect(0)
        }
    }

    /// Writes the run's checkpoint into `directory` with every rank: collective. Throws on every
    /// rank when any rank's write failed (the previous checkpoint is then left as it was).
    public static func write(_ run: TrainingRun, to directory: String, ranks: RankExchange) throws {
        let shard = run.engine.model.shard
        precondition(shard.isWholeTable || (shard.ranks == ranks.size && shard.rank == ranks.rank))
        // Whole tables (every rank the same): rank 0 writes the one shard.
        let writes = !shard.isWholeTable || ranks.isRoot
        // Rank 0 makes the directory; every rank learns the next generation from the manifest.
        var problem: String?
        if ranks.isRoot {
            do { try makeDirectory(directory) } catch { problem = "cannot make the checkpoint directory \(directory): \(error)" }
        }
        try agree(problem, ranks)
        let previous = (try? manifest(at: directory))?.generation ?? 0
        let generation = previous + 1
        let name = shardName(rank: shard.rank, ranks: shard.ranks, generation: generation)
        if writes {
            do {
                var file = try Checkpoint.contents(of: run)
                file.recordDigest()
                try file.write(path: directory + "/" + name)
            } catch { problem = "rank \(ranks.rank): \(error)" }
        }
        try agree(problem, ranks)
        if ranks.isRoot {
            let manifest = Manifest(format: formatName, checkpointVersion: Checkpoint.version, ranks: shard.ranks, generation: generation,
                                    shards: (0..<shard.ranks).map { shardName(rank: $0, ranks: shard.ranks, generation: generation) })
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try writeFileAtomically(path: directory + "/" + manifestName, bytes: Array(try encoder.encode(manifest)))
                // The manifest names this generation: the others' files are no longer read.
                let current = Set(manifest.shards)
                for entry in directoryEntries(directory) ?? [] where entry.hasPrefix("shard-") && entry.hasSuffix(".safetensors") && !current.contains(entry) {
                    removeFile(directory + "/" + entry)
                }
            } catch { problem = "cannot write \(manifestName): \(error)" }
        }
        try agree(problem, ranks)
    }

    /// Removes a sharded checkpoint (its manifest first, so a half-removed one is not read).
    @discardableResult
    public static func remove(_ directory: String) -> Bool {
        guard (try? manifest(at: directory)) != nil else { return false }
        removeFile(directory + "/" + manifestName)
        for entry in directoryEntries(directory) ?? [] where entry.hasPrefix("shard-") { removeFile(directory + "/" + entry) }
        return removeDirectory(directory)
    }

    /// Throws on every rank the first rank's problem, if any rank had one.
    private static func agree(_ problem: String?, _ ranks: RankExchange) throws {
        if let first = try ranks.firstAnswer(problem) { throw FileWriteError(path: "checkpoint", message: first) }
    }
}
