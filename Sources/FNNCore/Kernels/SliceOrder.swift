/// The one summation-order policy of the data-parallel trainer. A batch is cut into fixed slices
/// (`SliceLayout`: their count depends on the batch size only, never on threads or processes);
/// every quantity summed over the batch is first summed within each slice, and the slices'
/// partials are then added in slice order, left to right: ((p0 + p1) + p2) + ... Whoever does the
/// adding (one thread, a partition of workers, later a rank), the additions and so the bits are
/// the same. It covers the dense gradients (here), the BatchNorm moments and backward sums
/// (`MLPKernels.batchStatistics`, `reduceSlicePartials`: the same order in Double), and table
/// rows (`RowGrouping`: each row's entries in position order, which is slice order).
///
/// Changing this order changes every trained model: bump the checkpoint version if it must.
package enum SliceOrder {
    /// `into[0..<count]` = the slice-order sum of `count` values starting at `first` in each of
    /// `sliceCount` partials laid `sliceStride` floats apart.
    @inlinable
    package static func sum(_ first: UnsafePointer<Float>, sliceStride: Int, sliceCount: Int, count: Int,
                           into sum: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        sum.update(from: first, count: count)
        for s in 1..<max(sliceCount, 1) {
            AdamKernels.add(first + s * sliceStride, into: sum, count: count)
        }
    }
}
