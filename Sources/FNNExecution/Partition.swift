import FNNSystem

/// Splits 0 ..< count into `parts` contiguous ranges whose boundaries are multiples of `alignment`,
/// so a SIMD loop's main body and tail cover the same elements whatever the number of parts.
public func partition(_ count: Int, parts: Int, alignment: Int = 64) -> [Range<Int>] {
    let blocks = (count + alignment - 1) / alignment
    let parts = max(1, parts)
    return (0..<parts).map { p in
        let lo = min(count, blocks * p / parts * alignment)
        let hi = min(count, blocks * (p + 1) / parts * alignment)
        return lo..<hi
    }
}
