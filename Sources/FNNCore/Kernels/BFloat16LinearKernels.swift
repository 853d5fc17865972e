/// A linear layer's weight in the two bf16 layouts its products read: forward x W^T (panels of
/// W^T) and backward dZ W (panels of W). Packed once per weight revision, read by every slice.
package struct BFloat16PackedWeight {
    package let forward: UnsafeMutablePointer<UInt32>
    package let backward: UnsafeMutablePointer<UInt32>

    package static func forwardCount(inputs: Int, outputs: Int) -> Int { BFloat16GEMM.panelCount(k: inputs, n: outputs) }
    package static func backwardCount(inputs: Int, outputs: Int) -> Int { BFloat16GEMM.panelCount(k: outputs, n: inputs) }

    package init(forward: UnsafeMutablePointer<UInt32>, backward: UnsafeMutablePointer<UInt32>) {
        self.forward = forward
        self.backward = backward
    }

    /// Packs `weight` (outputs x inputs, torch's layout) into both layouts.
    package func pack(_ weight: UnsafePointer<Float>, inputs: Int, outputs: Int) {
        BFloat16GEMM.packTransposed(weight, n: outputs, k: inputs, into: forward)
        BFloat16GEMM.packRowPairs(weight, ldb: inputs, k: outputs, n: inputs, width: BFloat16GEMM.panelColumns, into: backward)
    }
}

/// One worker's staging space for a slice's bf16 operands: the slice's activations (or output
/// gradients) as bf16 rows, its output gradient as one pair-major block (dW's A), and its input
/// as panels (dW's B). Sized for the widest layer and the slice's row count.
package struct BFloat16SliceScratch {
    package let rows: UnsafeMutablePointer<UInt16>
    package let block: UnsafeMutablePointer<UInt32>
    package let panels: UnsafeMutablePointer<UInt32>

    package static func rowsCount(sliceRows: Int, maxWidth: Int) -> Int { sliceRows * BFloat16GEMM.rowLength(maxWidth) }
    package static func blockCount(sliceRows: Int, maxWidth: Int) -> Int {
        BFloat16GEMM.pairs(sliceRows) * BFloat16GEMM.blockWidth(maxWidth)
    }
    package static func panelsCount(sliceRows: Int, maxWidth: Int) -> Int { BFloat16GEMM.panelCount(k: sliceRows, n: maxWidth) }

    package init(rows: UnsafeMutablePointer<UInt16>, block: UnsafeMutablePointer<UInt32>, panels: UnsafeMutablePointer<UInt32>) {
        self.rows = rows
        self.block = block
        self.panels = panels
    }
}

extension MLPKernels {
    /// y = x W^T + b with x and W rounded to bf16 and the products summed in fp32.
    @inlinable package static func linearForward(
        x: UnsafePointer<Float>, rows: Int, inputs: Int, packed: BFloat16PackedWeight, bias: UnsafePointer<Float>,
        outputs: Int, y: UnsafeMutablePointer<Float>, scratch: BFloat16SliceScratch
    ) {
        guard rows > 0 else { return }
        BFloat16GEMM.convertRows(x, ldx: inputs, rows: rows, k: inputs, into: scratch.rows)
        let pairs = BFloat16GEMM.pairs(inputs)
        UnsafeRawPointer(scratch.rows).withMemoryRebound(to: UInt32.self, capacity: rows * pairs) { a in
            BFloat16GEMM.multiply(m: rows, n: outputs, pairs: pairs, a: a, aRow: pairs, aPair: 1, b: packed.forward, c: y, ldc: outputs)
        }
        addBias(bias, to: y, rows: rows, outputs: outputs)
    }

    /// The bf16 form of `linearBackward`: dW = dZ^T x and dX = dZ W with the operands rounded to
    /// bf16 and fp32 sums; db in fp32 as before.
    @inlinable package static func linearBackward(
        x: UnsafePointer<Float>, rows: Int, inputs: Int, packed: BFloat16PackedWeight, outputs: Int,
        dZ: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, scratch: BFloat16SliceScratch
    ) {
        for j in 0..<outputs { dBias[j] = 0 }
        guard rows > 0 else {
            for j in 0..<(outputs * inputs) { dWeight[j] = 0 }
            return
        }
        let width = BFloat16GEMM.blockWidth(outputs)
        BFloat16GEMM.packRowPairs(dZ, ldb: outputs, k: rows, n: outputs, width: width, into: scratch.block)
        BFloat16GEMM.packRowPairs(x, ldb: inputs, k: rows, n: inputs, width: BFloat16GEMM.panelColumns, into: scratch.panels)
        BFloat16GEMM.multiply(m: outputs, n: inputs, pairs: BFloat16GEMM.pairs(rows), a: scratch.block, aRow: 1, aPair: width,
                              b: scratch.panels, c: dWeight, ldc: inputs)
        addColumnSums(of: dZ, rows: rows, outputs: outputs, into: dBias)
        if let dX {
            BFloat16GEMM.convertRows(dZ, ldx: outputs, rows: rows, k: outputs, into: scratch.rows)
            let pairs = BFloat16GEMM.pairs(outputs)
            UnsafeRawPointer(scratch.rows).withMemoryRebound(to: UInt32.self, capacity: rows * pairs) { a in
                BFloat16GEMM.multiply(m: rows, n: inputs, pairs: pairs, a: a, aRow: pairs, aPair: 1, b: packed.backward, c: dX, ldc: inputs)
            }
        }
    }
}
