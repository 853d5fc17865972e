#ifndef FNN_PAR_GEMM_H
#define FNN_PAR_GEMM_H
// The one C target with numeric logic: the MLP's bf16 matrix products. Swift has no spelling
// for AVX512-BF16's `vdpbf16ps` (two bf16 products added into each fp32 lane), and the OpenBLAS
// that Debian ships has no `sbgemm`. Everything else (which operands, when to pack,
// determinism) is decided in Swift (FNNCore's `BFloat16GEMM`).
//
// bf16 operands are *pairs*: a uint32 holding two consecutive k-elements, the lower k in the
// low half. An odd k is padded with a zero element. Every routine here is a fixed sequence of
// operations, so its result depends on its inputs only (never on the thread or the machine's
// core count), which the determinism contract needs.
#include <stdint.h>

// Columns of one packed B panel: two 16-lane vectors.
#define FNN_BF16_PANEL 32

// 1 when this CPU and the operating system run AVX512-F/BW/VL and AVX512-BF16 code.
int fnn_bf16_supported(void);

// Rounds `rows` x `k` floats (row stride `ldx`) to bf16, nearest-even (the instruction's
// rounding: NaN stays NaN, denormals become signed zero), into rows of `ldo` bf16 values
// (`ldo` even, >= k); the row's padding up to `ldo` is zeroed.
void fnn_bf16_convert_rows(const float *x, long ldx, int rows, int k, uint16_t *out, long ldo);

// B is k x n floats (row stride `ldb`). Writes pairs of its rows 2p, 2p+1 column by column:
// out[(j / width) * pairs * width + p * width + j % width] = (B[2p][j], B[2p+1][j]), where
// pairs = ceil(k / 2) and `width` is a multiple of 16; columns from n up to the next multiple of
// `width` are zero. width = FNN_BF16_PANEL gives the GEMM's B panels; width >= n gives one
// pair-major block (the GEMM's A read with aRow = 1, aPair = width).
void fnn_bf16_pack_row_pairs(const float *b, long ldb, int k, int n, uint32_t *out, long width);

// B = W^T where W is n x k floats (row stride `ldw`): the GEMM's B panels of W's transpose,
// i.e. out[(j / 32) * pairs * 32 + p * 32 + j % 32] = (W[j][2p], W[j][2p+1]).
void fnn_bf16_pack_transposed(const float *w, long ldw, int n, int k, uint32_t *out);

// C (m x n floats, row stride `ldc`) = A B, with A's pair p of row i at a[i * aRow + p * aPair]
// and B in panels of FNN_BF16_PANEL columns (`pairs` pairs each). Products are exact in fp32;
// each lane adds its pairs in k order (a pair's two products in the instruction's own order: Intel
// documents the higher k first; the result is the same on every call on one CPU).
void fnn_bf16_gemm(int m, int n, int pairs, const uint32_t *a, long aRow, long aPair,
                   const uint32_t *b, float *c, long ldc);

#endif
