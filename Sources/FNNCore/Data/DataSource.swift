import FNNExecution
import FNNSystem
import Foundation

/// The one way data comes in, for every command (training, eval's split, bench, split): a
/// `DataRequest` in, a `Dataset` out, with notes (what was parsed, cached, skipped, how fast) for
/// the caller to show. It reads through the binary cache when that is current, else parses the
/// text (in parallel on `executor`) and caches it; data over the memory budget is converted a
/// segment at a time and comes back mapped. Held-out files are read with the training file's
/// format and vocabularies. Errors name the file the user gave, never a temporary copy.
public struct DataSource {
    public let request: DataRequest
    /// Receives progress and notes, one line each.
    let note: (String) -> Void

    public init(_ request: DataRequest, note: @escaping (String) -> Void) {
        self.request = request
        self.note = note
    }

    /// The data set `request` names.
    public func load(executor: PhaseExecutor? = nil) throws(InputError) -> Dataset {
        guard let data = request.path else {
            note("no --data given: using the built-in synthetic MovieLens-1M-shaped data set (1,000,209 rows from a planted FM, fields 6040 and 3706)")
            return PlantedFMGenerator.builtInMovieLens1M()
        }
        let inputs = PlainInputs(note: note)
        var source = self
        if request.readsAStream {
            var plain = request
            plain.useCache = false
            source = DataSource(plain, note: note)
        }
        do {
            var dataset = try source.read(data, inputs: inputs, executor: executor)
            dataset = try withSideInformation(dataset, path: data)
            dataset.name = inputs.name(of: data)
            return dataset
        } catch {
            throw inputs.displayed(error)
        }
    }

    /// Through the binary cache when it is current, else parsing the text (and caching it).
    /// `data` and the held-out files are named as the user gave them (cache keys, messages);
    /// their content is read from `inputs.readable` (standard input and compressed files become
    /// plain copies there, only when the cache cannot serve).
    private func read(_ data: String, inputs: PlainInputs, executor: PhaseExecutor?) throws(InputError) -> Dataset {
        let start = PhaseProfile.now()
        let resolved = request.format == .auto ? try inputs.detectFormat(of: data) : request.format
        if resolved == .binary {
            var mapped = try DatasetCache.open(path: try inputs.readable(data), executor: executor)
            if !request.heldOutPaths.isEmpty {
                let parts = try withHeldOutFiles(mapped, format: .binary, inputs: inputs) { (path) throws(InputError) in
                    try DatasetCache.open(path: path, executor: executor)
                }
                mapped = try Dataset.joining(parts)
                mapped.heldOut = heldOutCounts(parts.dropFirst().map(\.rowCount))
            }
            mapped.sourceFormat = .binary
            note(String(format: "mapped the binary data file %@ in %.3f s", data, PhaseProfile.now() - start))
            return mapped
        }
        let categorical = resolved.categorical != nil
        let kind: CategoricalFormat = resolved.categorical ?? .criteo
        let minimum = request.minCount ?? kind.defaultMinCount
        let map = try request.fieldMapPath.map { (path) throws(InputError) in try FieldMap.read(path: path) }
        if map != nil && kind != .libsvm { note("note: --field-map applies to libsvm data only; ignored") }
        /// Every way of reading ends here: the field map goes with libsvm data, skipped lines are reported.
        func finish(_ read: Dataset) -> Dataset {
            var dataset = read
            dataset.sourceFormat = resolved
            if kind == .libsvm && categorical { dataset.fieldMap = map }
            if dataset.skippedLines > 0, let first = dataset.firstSkipped {
                note("skipped \(dataset.skippedLines) malformed line\(dataset.skippedLines == 1 ? "" : "s"); the first: \(first)")
            }
            return dataset
        }
        var key: DatasetCache.Key?
        var cachePath: String?
        if request.useCache {
            let preprocessing = categorical
                ? "\(resolved.rawValue) min-count \(minimum) vocab-from \(request.vocabularyFrom.rawValue)"
                    + (request.vocabularyFrom == .train && !request.trainOnAll ? " seed \(request.seed)" + (request.split == .standard ? "" : " split \(request.split)") : "")
                : resolved.rawValue
            let preprocessingKey = preprocessing + (request.skipBadLines ? " skip-bad-lines" : "")
                + (kind == .libsvm && categorical ? " field-map \(map?.digest ?? "none")" : "")
                + ((kind == .libffm || kind == .libsvm) && categorical && request.pooling != .sum ? " pooling \(request.pooling.rawValue)" : "")
                + (kind == .criteo && categorical && request.criteoNumeric != .bucket ? " numeric \(request.criteoNumeric.rawValue)" : "")
                + (request.maxIdsPerField != FieldSpec.maximumIdsPerField ? " max-ids \(request.maxIdsPerField)" : "")
                + (try heldOutDescription(request))
            key = try DatasetCache.Key(source: data, preprocessing: preprocessingKey)
            cachePath = DatasetCache.path(for: data, directory: request.cacheDirectory)
            if let cached = DatasetCache.load(cache: cachePath!, key: key!, name: data, executor: executor) {
                note(String(format: "read the binary cache %@ in %.3f s", cachePath!, PhaseProfile.now() - start))
                return finish(cached)
            }
        }
        if categorical, request.heldOutPaths.isEmpty, let key, let cachePath, let budget = Optional(request.memoryBudget), key.sourceSize > budget {
            note("\(data) (\(key.sourceSize / 1_000_000) MB) exceeds the \(budget / 1_000_000) MB memory budget: converting it to the binary cache \(cachePath) a segment at a time")
            do {
                let converted = try convertCategoricalToCache(
                    path: try inputs.readable(data), format: kind, minCount: minimum, vocabularyFrom: request.trainOnAll ? .all : request.vocabularyFrom, seed: request.seed,
                    skipBadLines: request.skipBadLines, executor: executor, cache: cachePath, key: key, fieldMap: map,
                    segmentBytes: max(1 << 20, budget / 4), minimumChunkBytes: max(256 << 10, min(4 << 20, budget / 32)),
                    split: request.split, pooling: request.pooling, criteoNumeric: request.criteoNumeric,
                    maxIdsPerField: request.maxIdsPerField)
                note(String(format: "converted %@ in %.2f s: %d rows, %d table rows", data, PhaseProfile.now() - start,
                               converted.rowCount, converted.fieldDims.reduce(0, +)))
                return finish(converted)
            } catch let error as InputError {
                throw error
            } catch {
                throw InputError(path: cachePath, "cannot write the binary cache (\(error)); give --cache-dir with room for it")
            }
        }
        var dataset: Dataset
        var parseSeconds: Double
        var vocabularySeconds = 0.0
        var heldOut: HeldOutFiles?
        if categorical {
            var raw = try loadRawCategorical(path: try inputs.readable(data), format: kind, skipBadLines: request.skipBadLines,
                                             executor: executor, fieldMap: map, criteoNumeric: request.criteoNumeric,
                                             maxIdsPerField: request.maxIdsPerField)
            if !request.heldOutPaths.isEmpty {
                let fields = raw.fieldCount
                func load(_ path: String, entries: Bool) throws(InputError) -> RawCategoricalData {
                    try loadRawCategorical(path: path, format: kind, skipBadLines: request.skipBadLines, executor: executor,
                                           fieldMap: map, minimumFields: fields, entries: entries, criteoNumeric: request.criteoNumeric,
                                           maxIdsPerField: request.maxIdsPerField)
                }
                var parts = try withHeldOutFiles(raw, format: resolved, inputs: inputs) { (path) throws(InputError) in
                    try load(path, entries: raw.entries != nil)
                }
                // A held-out file that needs entries: every file as entries, so that fields the
                // training file shows one-hot read the same way in all of them.
                if parts.contains(where: { $0.entries != nil }), parts.contains(where: { $0.entries == nil }) {
                    let paths = [data] + request.heldOutPaths
                    for (k, path) in paths.enumerated() where parts[k].entries == nil {
                        parts[k] = try load(try inputs.readable(path), entries: true)
                    }
                }
                heldOut = heldOutCounts(parts.dropFirst().map(\.rowCount))
                raw = try RawCategoricalData.joining(parts)
            }
            raw = raw.resolvingFields(raw.inferredSchema(pooling: request.pooling))
            parseSeconds = PhaseProfile.now() - start
            let rows = request.vocabularyFrom == .train && !request.trainOnAll
                ? (heldOut.map { DataSplit(rowCount: raw.rowCount, seed: request.seed, proportions: request.split, heldOut: $0) }
                    ?? DataSplit(rowCount: raw.rowCount, seed: request.seed, proportions: request.split)).train
                : nil
            let vocabulary = raw.vocabulary(minCount: minimum, rows: rows)
            note("\(kind.rawValue): \(raw.rowCount) rows; vocabularies from \(request.vocabularyFrom == .train && !request.trainOnAll ? "the training split" : "all rows"), "
                + "tokens seen under \(minimum) times -> rare/unseen id; \(vocabulary.fieldDims.reduce(0, +)) table rows"
                + (raw.entries == nil ? "" : "; fields \(raw.schema!.summary)"))
            dataset = raw.dataset(vocabulary: vocabulary)
            vocabularySeconds = PhaseProfile.now() - start - parseSeconds
        } else {
            dataset = try loadDataset(path: try inputs.readable(data), format: resolved, skipBadLines: request.skipBadLines,
                                      maxIdsPerField: request.maxIdsPerField)
            if !request.heldOutPaths.isEmpty {
                let parts = try withHeldOutFiles(dataset, format: resolved, inputs: inputs) { (path) throws(InputError) in
                    try loadDataset(path: path, format: resolved, skipBadLines: request.skipBadLines, maxIdsPerField: request.maxIdsPerField)
                }
                heldOut = heldOutCounts(parts.dropFirst().map(\.rowCount))
                dataset = try Dataset.joining(parts)
            }
            parseSeconds = PhaseProfile.now() - start
        }
        dataset.heldOut = heldOut
        dataset = finish(dataset)
        let megabytes = Double((try? FileStatus.of(try inputs.readable(data)))?.size ?? 0) / 1e6
        let threads = categorical ? executor?.workerCount ?? 1 : 1
        note(String(format: "parsed %@ (%.0f MB) in %.2f s: %.0f MB/s on %d thread%@, %.0f MB/s per thread%@", data, megabytes,
                       parseSeconds, megabytes / max(parseSeconds, 1e-9), threads, threads == 1 ? "" : "s",
                       megabytes / max(parseSeconds, 1e-9) / Double(threads),
                       categorical ? String(format: "; vocabularies and ids %.2f s", vocabularySeconds) : ""))
        if let key, let cachePath {
            do {
                try DatasetCache.store(dataset, cache: cachePath, key: key)
                // Over budget, train from the mapped cache, not the parsed copy.
                if let budget = Optional(request.memoryBudget), dataset.binaryBytes > budget,
                   let mapped = DatasetCache.load(cache: cachePath, key: key, name: data) {
                    return finish(mapped)
                }
            } catch {
                note("note: cannot write the binary cache \(cachePath) (\(error)); give --cache-dir or --no-cache")
            }
        }
        return dataset
    }
}

extension DataSource {
    /// MovieLens ratings joined with the side files beside them, as `request.sideInformation`
    /// asks. The join comes after the binary cache, which keeps the ratings alone: the side
    /// files are small and read every time, so an edited side file is never served stale.
    private func withSideInformation(_ ratings: Dataset, path: String) throws(InputError) -> Dataset {
        guard request.sideInformation != .off else { return ratings }
        guard ratings.sourceFormat == .movielens else {
            if request.sideInformation == .on {
                throw InputError(path: path, "--side-info on joins MovieLens side files, but this is \(ratings.sourceFormat?.rawValue ?? "other") data")
            }
            return ratings
        }
        guard PlainInputs.isStream(path) == false,
              let side = try MovieLensSideInformation.find(besideRatings: path) else {
            if request.sideInformation == .on {
                throw InputError(path: path, "--side-info on, but no side files beside it (users.dat and movies.dat, u.user and u.item, or movies.csv)")
            }
            return ratings
        }
        let joined = side.joined(ratings)
        note("side information from \(side.files.joined(separator: ", ")): fields \(joined.schema.summary)")
        return joined
    }

    /// The held-out files' row counts, in `heldOutPaths` order.
    private func heldOutCounts(_ rows: [Int]) -> HeldOutFiles {
        HeldOutFiles(validationRows: request.validationPath == nil ? 0 : rows[0], testRows: request.testPath == nil ? 0 : rows[rows.count - 1])
    }

    /// `first` (the training file's) followed by each held-out file as `load` reads its plain
    /// copy, after checking that it is in the training data's format.
    private func withHeldOutFiles<Part>(_ first: Part, format: DataFormat, inputs: PlainInputs,
                                load: (String) throws(InputError) -> Part) throws(InputError) -> [Part] {
        var parts = [first]
        for path in request.heldOutPaths {
            try requireFormat(format, of: path, inputs: inputs)
            parts.append(try load(try inputs.readable(path)))
        }
        return parts
    }

    /// A held-out file must be in the training file's format: read another way, its ids would
    /// name other rows of the tables.
    private func requireFormat(_ format: DataFormat, of path: String, inputs: PlainInputs) throws(InputError) {
        guard request.format == .auto else { return }
        let own = try inputs.detectFormat(of: path)
        guard own == format else {
            throw InputError(path: path, "reads as \(own.rawValue) data but the training file is \(format.rawValue): held-out files must be in the training data's format")
        }
    }

    /// What identifies the held-out files in the cache key: a cache made with other (or edited)
    /// held-out files holds other rows and vocabularies.
    private func heldOutDescription(_ request: DataRequest) throws(InputError) -> String {
        var text = ""
        for (name, path) in [("validation", request.validationPath), ("test", request.testPath)] {
            guard let path else { continue }
            let key = try DatasetCache.Key(source: path, preprocessing: "")
            text += " \(name)-file \(URL(fileURLWithPath: path).standardizedFileURL.path) size \(key.sourceSize)"
                + " modified \(key.sourceModified) fingerprint \(String(key.sourceFingerprint, radix: 16))"
        }
        return text
    }
}
