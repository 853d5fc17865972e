/// Eight floats loaded from and stored to any address, for the kernels that write their loops in
/// explicit lanes: the compiler cannot prove their pointers distinct and would keep plain loops
/// scalar. One definition for every such kernel family (conformance adds `load` and `store`).
package protocol FloatLanes {}

extension FloatLanes {
    @inlinable @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
