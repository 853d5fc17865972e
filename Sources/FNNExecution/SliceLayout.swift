/// Examples per slice: the unit of work handed to a thread and of every floating-point partial
/// sum. Fixed, so that the order of every sum, and so the trained model, does not depend on the
/// thread count; a batch of 2048 has 32 slices, enough for 32 threads.
public let defaultSliceRows = 64

/// Sizes a step's slices.
public struct SliceLayout: Sendable {
    public let sliceRows: Int
    public let capacity: Int
    public var maxSlices: Int { (capacity + sliceRows - 1) / sliceRows }

    public init(capacity: Int, sliceRows: Int = defaultSliceRows) {
        self.capacity = capacity
        self.sliceRows = sliceRows
    }

    public func slices(for count: Int) -> Int { (count + sliceRows - 1) / sliceRows }
    public func rows(of slice: Int, count: Int) -> Range<Int> {
        (slice * sliceRows)..<min(count, (slice + 1) * sliceRows)
    }
    /// The rows of consecutive `slices`.
    public func rows(ofSlices slices: Range<Int>, count: Int) -> Range<Int> {
        min(count, slices.lowerBound * sliceRows)..<min(count, slices.upperBound * sliceRows)
    }
}
