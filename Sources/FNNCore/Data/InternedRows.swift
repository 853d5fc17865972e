import FNNSystem

/// Variable rows re-expressed for training as one run index per (row, field): each field's run of
/// entries (a movie's genre list, a user's one-hot id) is stored once among the distinct runs,
/// and a row is `fieldCount` run indices, a fixed-width row like the one-hot form's ids.
///
/// Why: side information repeats. A genre list belongs to the movie, a user's features to the
/// user, so ML-1M's million rows hold a few thousand distinct runs. Read at random rows, the
/// entries themselves (12 bytes each, 66 MB for the synthetic ML-1M with genres) come from DRAM,
/// two or three lines per example after a dependent read of the row's offsets; the run indices
/// (12 MB) take one line, and the distinct runs stay in cache. The gather from here writes the
/// same positions, values and counts as the gather from the entries, bit for bit.
///
/// Built only where it pays: the distinct runs must hold at most an eighth of the entries and the
/// run indices take at most half the entries' bytes (numeric fields, whose values rarely repeat,
/// fail the first test early, and the data's own form is used).
public final class InternedRows: @unchecked Sendable {
    public let fieldCount: Int
    public let rowCount: Int
    /// Row r's run of field f, at runIndices[r * fieldCount + f]: its entries' first index
    /// shifted left by 8, or'ed with their count (count 0 for a field the row lacks); for a
    /// `direct` field, the id itself.
    public let runIndices: AlignedBuffer<UInt32>
    /// How many distinct runs there are.
    public let runCount: Int
    public let entries: AlignedBuffer<VariableEntry>
    /// Per field, 1 when its runIndices are the ids themselves (every run of the field is one
    /// entry of value 1): the gather then reads no run.
    public let direct: AlignedBuffer<UInt8>
    /// The arrays these were built from (held, so that no other data can come to live at their
    /// addresses), so that a gather from other data is never served from them.
    private let sourceTable: AlignedBuffer<VariableEntry>
    private let sourceStarts: AlignedBuffer<Int>

    private init(fieldCount: Int, rowCount: Int, runIndices: AlignedBuffer<UInt32>, runStarts: [UInt32],
                 entries: [VariableEntry], direct: [Bool], source: VariableRows) {
        self.fieldCount = fieldCount
        self.direct = AlignedBuffer(direct.map { $0 ? 1 : 0 })
        self.rowCount = rowCount
        self.runIndices = runIndices
        runCount = runStarts.count - 1
        self.entries = AlignedBuffer(entries)
        sourceTable = source.table
        sourceStarts = source.starts
    }

    public var byteCount: Int { runIndices.byteCount + entries.byteCount + direct.byteCount }

    /// Whether these serve gathers from `rows`.
    public func isBuilt(from rows: VariableRows) -> Bool {
        rows.table === sourceTable && rows.starts === sourceStarts
    }

    /// The interned form of `rows` (entries in increasing field order, fields below
    /// `fieldCount`), or nil where it would not pay or a row breaks the order.
    public static func build(from rows: VariableRows, fieldCount: Int) -> InternedRows? {
        let n = rows.rowCount
        guard n > 0, fieldCount > 0 else { return nil }
        // Checked before anything is allocated: the indices must be much smaller than the entries.
        let (indexCount, overflow) = n.multipliedReportingOverflow(by: fieldCount)
        guard !overflow, indexCount <= Int(UInt32.max), indexCount * 4 <= rows.byteCount / 2 else { return nil }
        let entryBudget = max(1024, rows.entryCount / 8)
        let starts = rows.starts.base, table = rows.table.base
        let runIndices = AlignedBuffer<UInt32>(uninitializedCount: indexCount)
        var runs = RunTable(entryBudget: entryBudget)
        for r in 0..<n {
            var k = starts[r]
            let end = starts[r + 1]
            for f in 0..<fieldCount {
                let lo = k
                while k < end && Int(table[k].field) == f { k += 1 }
                guard let run = runs.index(of: table + lo, count: k - lo, field: f) else { return nil }
                runIndices[r * fieldCount + f] = run
            }
            // A field out of order or out of range: not the form this serves.
            guard k == end else { return nil }
        }
        let runStarts = runs.starts, entries = runs.entries
        // Fields whose every run is one entry of value 1 (one-hot fields among multi-hot ones)
        // hold the id itself in place of the run index: one dependent read fewer per field.
        var direct = [Bool](repeating: true, count: fieldCount)
        for s in 0..<(runStarts.count - 1) {
            let a = Int(runStarts[s]), b = Int(runStarts[s + 1])
            if b - a != 1 {
                direct[runs.fields[s]] = false
            } else if entries[a].value.bitPattern != Float(1).bitPattern {
                direct[Int(entries[a].field)] = false
            }
        }
        // The other fields' runs as (first entry << 8 | length): the gather reads the entries
        // straight from the index, not first the run's bounds. Runs that do not fit keep the
        // data's own form.
        guard entries.count < 1 << 24 else { return nil }
        for s in 0..<(runStarts.count - 1) where !direct[runs.fields[s]] && runStarts[s + 1] - runStarts[s] > 255 { return nil }
        for r in 0..<n {
            for f in 0..<fieldCount {
                let run = Int(runIndices[r * fieldCount + f])
                let start = runStarts[run]
                runIndices[r * fieldCount + f] = direct[f] ? entries[Int(start)].id : start << 8 | (runStarts[run + 1] - start)
            }
        }
        return InternedRows(fieldCount: fieldCount, rowCount: n, runIndices: runIndices, runStarts: runStarts,
                            entries: entries, direct: direct, source: rows)
    }
}

/// The distinct runs met so far, found by hash (open addressing; a slot holds a run index + 1,
/// 0 when empty; kept at most half full).
private struct RunTable {
    var starts: [UInt32] = [0]
    var entries: [VariableEntry] = []
    var hashes: [UInt64] = []
    /// Per run, its field.
    var fields: [Int] = []
    var slots = [UInt32](repeating: 0, count: 1 << 12)
    let entryBudget: Int

    init(entryBudget: Int) { self.entryBudget = entryBudget }

    static func hash(_ run: UnsafePointer<VariableEntry>, count: Int, field: Int) -> UInt64 {
        var h = SplitMix64.mix(UInt64(field) &+ UInt64(count) &* SplitMix64.goldenGamma)
        for k in 0..<count {
            h = SplitMix64.mix(h ^ (UInt64(run[k].id) | UInt64(run[k].value.bitPattern) << 32))
        }
        return h
    }

    /// Run `s` holds the same entries (values compared as bits).
    func holds(_ s: Int, _ run: UnsafePointer<VariableEntry>, count: Int) -> Bool {
        let a = Int(starts[s]), b = Int(starts[s + 1])
        guard b - a == count else { return false }
        return entries.withUnsafeBufferPointer { stored in
            for k in 0..<count {
                let x = stored[a + k], y = run[k]
                if x.id != y.id || x.field != y.field || x.value.bitPattern != y.value.bitPattern { return false }
            }
            return true
        }
    }

    /// The index of the run of `count` entries at `run` (of `field`: empty runs of different
    /// fields are told apart by it), added if new; nil once the distinct entries pass the budget.
    mutating func index(of run: UnsafePointer<VariableEntry>, count: Int, field: Int) -> UInt32? {
        let h = Self.hash(run, count: count, field: field)
        var mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 {
            let s = Int(slots[i]) - 1
            if hashes[s] == h && fields[s] == field && holds(s, run, count: count) { return UInt32(s) }
            i = (i + 1) & mask
        }
        let s = hashes.count
        entries.append(contentsOf: UnsafeBufferPointer(start: run, count: count))
        guard entries.count <= entryBudget else { return nil }
        starts.append(UInt32(entries.count))
        hashes.append(h)
        fields.append(field)
        slots[i] = UInt32(s + 1)
        if 2 * hashes.count > slots.count {
            slots = [UInt32](repeating: 0, count: 2 * slots.count)
            mask = slots.count - 1
            for t in 0..<hashes.count {
                var j = Int(truncatingIfNeeded: hashes[t]) & mask
                while slots[j] != 0 { j = (j + 1) & mask }
                slots[j] = UInt32(t + 1)
            }
        }
        return UInt32(s)
    }
}
