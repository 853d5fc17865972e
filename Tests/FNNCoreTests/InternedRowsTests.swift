import FNNCore
import FNNSystem
import Testing

/// The gather from interned rows against the gather from the entries, position for position and
/// bit for bit: whatever the training reads after the gather is then the same.
@Suite struct InternedRowsTests {
    static let schema = FieldSchema(fields: [
        FieldSpec(name: "user"),
        FieldSpec(name: "genres", kind: .multiHot, pooling: .mean, maxIds: 6),
        FieldSpec(name: "tags", kind: .multiHot, pooling: .sum, maxIds: 3),
        FieldSpec(name: "price", kind: .numeric),
        FieldSpec(name: "movie"),
        FieldSpec(name: "decade", kind: .multiHot, pooling: .mean, maxIds: 1),
    ])
    static let fieldDims = [50, 18, 9, 1, 40, 10]

    /// Rows whose multi-hot lists and numeric values come from small pools (as side information
    /// does), some lacking the tags field; `uniqueValues`: every price and genre weight distinct
    /// instead.
    static func data(rows: Int, seed: UInt64, uniqueValues: Bool = false) -> Dataset {
        var rng = Xoshiro256(seed: seed)
        let genreLists: [[UInt32]] = (0..<30).map { _ in
            let n = 1 + Int(rng.next() % 6)
            return Array(Set((0..<n).map { _ in UInt32(rng.next() % 18) })).sorted()
        }
        // -0, a quiet and a signaling NaN among them: the gathers must keep their bits.
        let prices: [Float] = [0.5, 2, -0.0, .nan, Float(bitPattern: 0x7FA0_0001), 3.25]
        // Some genre lists weighted (mean pooling of values other than 1).
        let weights: [Float] = (0..<30).map { $0 % 3 == 0 ? 0.5 : 1 }
        var builder = VariableRows.Builder()
        var labels: [Float] = []
        for r in 0..<rows {
            builder.append(field: 0, id: UInt32(rng.next() % 50), value: 1)
            let list = Int(rng.next() % 30)
            let weight = uniqueValues ? 1 + Float(r) * 0.001 : weights[list]
            for g in genreLists[list] { builder.append(field: 1, id: g, value: weight) }
            if rng.next() % 3 != 0 {
                for t in 0..<(1 + Int(rng.next() % 3)) { builder.append(field: 2, id: UInt32(t * 3 + Int(rng.next() % 3)), value: 1) }
            }
            let price = uniqueValues ? Float(r) * 0.001 + 0.0001 : prices[Int(rng.next() % 6)]
            builder.append(field: 3, id: 0, value: price)
            builder.append(field: 4, id: UInt32(rng.next() % 40), value: 1)
            // One id of value 1 where present, absent from a third of the rows: not direct.
            if rng.next() % 3 != 0 { builder.append(field: 5, id: UInt32(rng.next() % 10), value: 1) }
            builder.endRow()
            labels.append(Float(rng.next() % 2))
        }
        return Dataset(name: "side", fieldDims: fieldDims, schema: schema, rows: builder.finish(), labels: AlignedBuffer(labels))
    }

    static var offsets: [Int] {
        var o: [Int] = [], acc = 0
        for d in fieldDims { o.append(acc); acc += d }
        return o
    }

    /// Gathers `order` in slices of 64 with both forms and compares every array.
    static func expectSameGather(_ data: Dataset, _ interned: BatchPositions, _ plain: BatchPositions, order: [Int]) {
        let count = order.count
        var labelsA = [Float](repeating: -1, count: count), labelsB = labelsA
        order.withUnsafeBufferPointer { examples in
            for start in stride(from: 0, to: count, by: 64) {
                let range = start..<min(count, start + 64)
                labelsA.withUnsafeMutableBufferPointer { la in
                    interned.gather(from: data, examples: examples.baseAddress!, range: range, batchLabels: la.baseAddress!)
                }
                labelsB.withUnsafeMutableBufferPointer { lb in
                    plain.gather(from: data, examples: examples.baseAddress!, range: range, batchLabels: lb.baseAddress!)
                }
            }
        }
        #expect(labelsA == labelsB)
        var mismatches = 0
        for i in 0..<count {
            let n = Int(plain.counts![i])
            if interned.counts![i] != plain.counts![i] { mismatches += 1; continue }
            for p in (i * plain.stride)..<(i * plain.stride + n) {
                if interned.rows[p] != plain.rows[p] || interned.fields![p] != plain.fields![p]
                    || interned.values![p].bitPattern != plain.values![p].bitPattern { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func internedGatherEqualsTheEntriesGather() throws {
        let data = Self.data(rows: 5000, seed: 1)
        let interned = BatchPositions(fieldOffsets: Self.offsets, capacity: 2048, for: data)
        let plain = BatchPositions(fieldOffsets: Self.offsets, capacity: 2048, for: data, interning: false)
        let table = try #require(interned.interned)
        #expect(plain.interned == nil)
        // user and movie hold their ids; genres, tags (multi-hot, sometimes empty) and price
        // (not 1) go through runs.
        #expect((0..<6).map { table.direct[$0] } == [1, 0, 0, 0, 1, 0])
        #expect(table.runCount < 400 && table.isBuilt(from: data.variable!))
        var rng = Xoshiro256(seed: 9)
        let order = (0..<2000).map { _ in Int(rng.next() % 5000) }
        Self.expectSameGather(data, interned, plain, order: order)
        // Every row, in order (each distinct run met at least once).
        for start in stride(from: 0, to: 5000, by: 2000) {
            Self.expectSameGather(data, interned, plain, order: Array(start..<min(5000, start + 2000)))
        }
    }

    @Test func valuesThatDoNotRepeatKeepTheEntries() {
        let data = Self.data(rows: 20000, seed: 2, uniqueValues: true)
        #expect(InternedRows.build(from: data.variable!, fieldCount: 6) == nil)
        let positions = BatchPositions(fieldOffsets: Self.offsets, capacity: 512, for: data)
        #expect(positions.interned == nil)
    }

    @Test func otherDataIsGatheredFromItsEntries() throws {
        let built = Self.data(rows: 3000, seed: 3), other = Self.data(rows: 3000, seed: 4)
        let interned = BatchPositions(fieldOffsets: Self.offsets, capacity: 512, for: built)
        #expect(try #require(interned.interned).isBuilt(from: built.variable!))
        #expect(!interned.interned!.isBuilt(from: other.variable!))
        // The same entries under other row bounds are other data too.
        let rebounded = VariableRows(starts: AlignedBuffer(built.variable!.starts.array), table: built.variable!.table)
        #expect(!interned.interned!.isBuilt(from: rebounded))
        let plain = BatchPositions(fieldOffsets: Self.offsets, capacity: 512, for: other, interning: false)
        Self.expectSameGather(other, interned, plain, order: Array((0..<512).map { ($0 * 37) % 3000 }))
    }

    @Test func rowsOutOfFieldOrderAreNotInterned() {
        var builder = VariableRows.Builder()
        for r in 0..<100 {
            builder.append(field: 1, id: UInt32(r % 3), value: 1)
            builder.append(field: 0, id: 0, value: 1)
            builder.endRow()
        }
        #expect(InternedRows.build(from: builder.finish(), fieldCount: 2) == nil)
    }

    /// A run longer than its index's 8-bit count keeps the entries; one of 255 is interned.
    @Test func runsPastTheIndexCountAreNotInterned() throws {
        for (length, interned) in [(255, true), (256, false)] {
            var builder = VariableRows.Builder()
            for r in 0..<4000 {
                builder.append(field: 0, id: UInt32(r % 7), value: 1)
                for k in 0..<(r % 2 == 0 ? length : 2) { builder.append(field: 1, id: UInt32(k), value: 1) }
                builder.endRow()
            }
            let rows = builder.finish()
            let built = InternedRows.build(from: rows, fieldCount: 2)
            #expect((built != nil) == interned, "run of \(length)")
            if let built {
                #expect(built.runIndices[0] == 0 && built.direct[0] == 1 && built.direct[1] == 0)
                #expect(built.runIndices[1] & 0xFF == 255 && built.runIndices[3] & 0xFF == 2)
            }
        }
    }
}
