/// The one summation-order policy of the data-parallel trainer. A batch is cut into fixed slices
/// (`SliceLayout`: their count depends on the batch size only, never on threads or processes);
/// every quantity summed over the batch is first summed within each slice, and the slices'
/// partials are then combined in an order fixed by the slice count alone:
///
/// - **Dense gradients** (`sum`): a fixed pairwise tree over the slices. Node [lo, hi) of more
///   than one slice adds its left child [lo, lo + p) and right child [lo + p, hi), p the largest
///   power of two below hi - lo. A rank holding slices [a, b) sums the tree's nodes that lie
///   wholly inside [a, b) (`cover`: at most two per level) and the ranks exchange those nodes'
///   values; any rank then finishes the tree from them with the very additions one process makes
///   (`sum(nodes:)`). So the bits depend on neither the thread count nor where rank boundaries
///   fall, and each rank sends a few dense vectors per step instead of one per slice.
/// - **BatchNorm moments and backward sums** (`MLPKernels.batchStatistics`,
///   `reduceSlicePartials`): slice order, left to right, in Double; they are a few widths per
///   slice, so ranks exchange every slice's partials and each adds them all.
/// - **Table rows** (`RowGrouping`): each row's entries in batch-position order; ranks exchange
///   the entries themselves.
///
/// Changing this order changes every trained model: bump the checkpoint version if it must.
package enum SliceOrder {
    /// Where node [lo, hi) (more than one slice) splits: its left child is the largest power of
    /// two of slices below its width, so every level but the last is whole.
    @inlinable
    package static func split(_ node: Range<Int>) -> Int {
        let width = node.count
        precondition(width > 1)
        return node.lowerBound + (1 << (Int.bitWidth - 1 - (width - 1).leadingZeroBitCount))
    }

    /// The tree's maximal nodes inside `range` (slices of a batch of `sliceCount`), left to right:
    /// what a rank holding those slices sums and sends.
    package static func cover(of range: Range<Int>, sliceCount: Int) -> [Range<Int>] {
        precondition(range.lowerBound >= 0 && range.upperBound <= sliceCount)
        var nodes: [Range<Int>] = []
        func visit(_ node: Range<Int>) {
            guard !range.isEmpty, node.overlaps(range) else { return }
            if range.contains(node.lowerBound) && node.upperBound <= range.upperBound {
                nodes.append(node)
                return
            }
            let mid = split(node)
            visit(node.lowerBound..<mid)
            visit(mid..<node.upperBound)
        }
        if sliceCount > 0 { visit(0..<sliceCount) }
        return nodes
    }

    /// Columns summed per pass: long enough that each slice is read as a long stream (512 read 32
    /// slices 2 KB at a time and took twice the time of a left-to-right sum; 2048, 4096 and 8192
    /// measured 6.9%, 6.0% and 5.5% of a Criteo-shaped FNN step against 4.6% left to right),
    /// short enough that a pass's temporaries (two per tree level, 32 KB each) stay in L2.
    @usableFromInline static let chunk = 8192

    /// `into[0..<count]` = the tree sum of `count` values starting at `first` in each of
    /// `sliceCount` partials laid `sliceStride` floats apart (the whole batch's slices).
    @inlinable
    package static func sum(_ first: UnsafePointer<Float>, sliceStride: Int, sliceCount: Int, count: Int,
                            into total: UnsafeMutablePointer<Float>) {
        sum(node: 0..<max(sliceCount, 1), count: count, into: total) { node in
            node.count == 1 ? first + node.lowerBound * sliceStride : nil
        }
    }

    /// The tree sum of `node`, from the values of nodes that `provided` returns (a pointer to that
    /// node's `count` values, or nil for a node to be formed from its children). Leaves must be
    /// provided, or covered by provided nodes.
    @inlinable
    package static func sum(node: Range<Int>, count: Int, into out: UnsafeMutablePointer<Float>,
                            provided: (Range<Int>) -> UnsafePointer<Float>?) {
        guard count > 0 else { return }
        if let whole = provided(node) {
            out.update(from: whole, count: count)
            return
        }
        let depth = Int.bitWidth - node.count.leadingZeroBitCount + 1
        // On the heap: a few hundred KB would crowd a small thread stack.
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * depth * chunk)
        defer { scratch.deallocate() }
        var start = 0
        while start < count {
            let n = min(chunk, count - start)
            let result = evaluate(node, columns: start, count: n, level: 0, output: out + start, scratch: scratch, provided: provided)
            if result != UnsafePointer(out + start) { (out + start).update(from: result, count: n) }
            start += n
        }
    }

    /// One node's values for columns `columns ..< columns + count`: a provided node's own memory,
    /// or `output` holding left + right (children use the scratch pair of the next level).
    @inlinable
    static func evaluate(_ node: Range<Int>, columns: Int, count: Int, level: Int, output: UnsafeMutablePointer<Float>,
                         scratch: UnsafeMutablePointer<Float>,
                         provided: (Range<Int>) -> UnsafePointer<Float>?) -> UnsafePointer<Float> {
        if let values = provided(node) { return values + columns }
        precondition(node.count > 1, "slice \(node.lowerBound) is neither provided nor covered")
        let mid = split(node)
        let left = evaluate(node.lowerBound..<mid, columns: columns, count: count, level: level + 1,
                            output: scratch + 2 * level * chunk, scratch: scratch, provided: provided)
        let right = evaluate(mid..<node.upperBound, columns: columns, count: count, level: level + 1,
                             output: scratch + (2 * level + 1) * chunk, scratch: scratch, provided: provided)
        AdamKernels.add(left, right, into: output, count: count)
        return UnsafePointer(output)
    }
}
