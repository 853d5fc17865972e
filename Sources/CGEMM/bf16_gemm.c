#include "CGEMM.h"
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#define FNN_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

int fnn_bf16_supported(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0; // OSXSAVE
    unsigned low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    if ((low & 0xE6) != 0xE6) return 0; // the OS saves SSE, AVX and the three AVX-512 states
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int foundation = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return foundation && dq && bw && vl && ((a >> 5) & 1);
}

static inline __mmask16 lanes_below(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

FNN_BF16_TARGET void fnn_bf16_convert_rows(const float *x, long ldx, int rows, int k, uint16_t *out, long ldo) {
    for (int i = 0; i < rows; i++) {
        const float *row = x + (long)i * ldx;
        uint16_t *target = out + (long)i * ldo;
        long j = 0;
        for (; j + 32 <= k; j += 32) {
            __m512 low = _mm512_loadu_ps(row + j), high = _mm512_loadu_ps(row + j + 16);
            _mm512_storeu_si512(target + j, (__m512i)_mm512_cvtne2ps_pbh(high, low));
        }
        for (; j < ldo; j += 16) {
            __mmask16 valid = lanes_below(k - (int)j), stored = lanes_below((int)(ldo - j));
            __m256bh converted = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(valid, row + j));
            _mm256_mask_storeu_epi16(target + j, stored, (__m256i)converted);
        }
    }
}

/// Sixteen columns of two rows as pairs: lane c = (low[c], high[c]).
FNN_BF16_TARGET static inline __m512i interleave(__m512 low, __m512 high) {
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(low));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(high));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

FNN_BF16_TARGET void fnn_bf16_pack_row_pairs(const float *b, long ldb, int k, int n, uint32_t *out, long width) {
    long pairs = (k + 1) / 2, padded = (n + width - 1) / width * width;
    for (long p = 0; p < pairs; p++) {
        const float *low = b + 2 * p * ldb, *high = low + ldb;
        int hasHigh = 2 * p + 1 < k;
        for (long j = 0; j < padded; j += 16) {
            __mmask16 valid = lanes_below(n - (int)j);
            __m512 l = _mm512_maskz_loadu_ps(valid, low + j);
            __m512 h = hasHigh ? _mm512_maskz_loadu_ps(valid, high + j) : _mm512_setzero_ps();
            _mm512_storeu_si512(out + (j / width) * pairs * width + p * width + j % width, interleave(l, h));
        }
    }
}

FNN_BF16_TARGET void fnn_bf16_pack_transposed(const float *w, long ldw, int n, int k, uint32_t *out) {
    long pairs = (k + 1) / 2, panels = (n + FNN_BF16_PANEL - 1) / FNN_BF16_PANEL;
    memset(out, 0, (size_t)(panels * pairs * FNN_BF16_PANEL) * sizeof(uint32_t));
    // Sixteen rows of W at a time: a 16 x 32 block of floats becomes 16 pairs for each of 16
    // k-pairs; gathering W's columns keeps the writes whole vectors.
    __m512i rowOffsets = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32((int)ldw));
    for (long j = 0; j < n; j += 16) {
        __mmask16 valid = lanes_below(n - (int)j);
        const float *rows = w + j * ldw;
        uint32_t *panel = out + (j / FNN_BF16_PANEL) * pairs * FNN_BF16_PANEL + j % FNN_BF16_PANEL;
        for (long p = 0; p < pairs; p++) {
            __m512 l = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, rowOffsets, rows + 2 * p, 4);
            __m512 h = 2 * p + 1 < k ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, rowOffsets, rows + 2 * p + 1, 4)
                                     : _mm512_setzero_ps();
            _mm512_storeu_si512(panel + p * FNN_BF16_PANEL, interleave(l, h));
        }
    }
}

// One block of R rows by one panel: 2R accumulators, two B vectors per pair, A broadcast.
#define FNN_BF16_BLOCK(R)                                                                               \
    FNN_BF16_TARGET static void block_##R(int pairs, const uint32_t *a, long aRow, long aPair,          \
                                          const uint32_t *panel, float *c, long ldc, int columns) {     \
        __m512 low[R], high[R];                                                                         \
        _Pragma("GCC unroll 8")                                                                         \
        for (int r = 0; r < R; r++) { low[r] = _mm512_setzero_ps(); high[r] = _mm512_setzero_ps(); }   \
        for (int p = 0; p < pairs; p++) {                                                               \
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + p * FNN_BF16_PANEL);                     \
            __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + p * FNN_BF16_PANEL + 16);                \
            _Pragma("GCC unroll 8")                                                                     \
            for (int r = 0; r < R; r++) {                                                               \
                __m512bh broadcast = (__m512bh)_mm512_set1_epi32((int)a[r * aRow + p * aPair]);         \
                low[r] = _mm512_dpbf16_ps(low[r], broadcast, b0);                                       \
                high[r] = _mm512_dpbf16_ps(high[r], broadcast, b1);                                     \
            }                                                                                           \
        }                                                                                               \
        __mmask16 first = lanes_below(columns), second = lanes_below(columns - 16);                     \
        _Pragma("GCC unroll 8")                                                                         \
        for (int r = 0; r < R; r++) {                                                                   \
            _mm512_mask_storeu_ps(c + r * ldc, first, low[r]);                                          \
            _mm512_mask_storeu_ps(c + r * ldc + 16, second, high[r]);                                   \
        }                                                                                               \
    }
FNN_BF16_BLOCK(1)
FNN_BF16_BLOCK(2)
FNN_BF16_BLOCK(3)
FNN_BF16_BLOCK(4)
FNN_BF16_BLOCK(5)
FNN_BF16_BLOCK(6)
FNN_BF16_BLOCK(7)
FNN_BF16_BLOCK(8)

// A panel's first sixteen columns only, for outputs of at most sixteen columns (FNN's 16-wide
// layers): the full block computed the sixteen zero columns beside them too, half its work.
// Sixteen rows: 16 accumulators, one B vector and a broadcast. Each output lane sees the same
// instructions in the same order as in the full block, so the bits are the same.
#define FNN_BF16_NARROW_BLOCK(R)                                                                        \
    FNN_BF16_TARGET static void narrow_##R(int pairs, const uint32_t *a, long aRow, long aPair,         \
                                           const uint32_t *panel, float *c, long ldc, int columns) {    \
        __m512 low[R];                                                                                  \
        _Pragma("GCC unroll 16")                                                                        \
        for (int r = 0; r < R; r++) low[r] = _mm512_setzero_ps();                                       \
        for (int p = 0; p < pairs; p++) {                                                               \
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + p * FNN_BF16_PANEL);                     \
            _Pragma("GCC unroll 16")                                                                    \
            for (int r = 0; r < R; r++) {                                                               \
                __m512bh broadcast = (__m512bh)_mm512_set1_epi32((int)a[r * aRow + p * aPair]);         \
                low[r] = _mm512_dpbf16_ps(low[r], broadcast, b0);                                       \
            }                                                                                           \
        }                                                                                               \
        __mmask16 first = lanes_below(columns);                                                         \
        _Pragma("GCC unroll 16")                                                                        \
        for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(c + r * ldc, first, low[r]);                 \
    }
FNN_BF16_NARROW_BLOCK(1)
FNN_BF16_NARROW_BLOCK(2)
FNN_BF16_NARROW_BLOCK(3)
FNN_BF16_NARROW_BLOCK(4)
FNN_BF16_NARROW_BLOCK(5)
FNN_BF16_NARROW_BLOCK(6)
FNN_BF16_NARROW_BLOCK(7)
FNN_BF16_NARROW_BLOCK(8)
FNN_BF16_NARROW_BLOCK(9)
FNN_BF16_NARROW_BLOCK(10)
FNN_BF16_NARROW_BLOCK(11)
FNN_BF16_NARROW_BLOCK(12)
FNN_BF16_NARROW_BLOCK(13)
FNN_BF16_NARROW_BLOCK(14)
FNN_BF16_NARROW_BLOCK(15)
FNN_BF16_NARROW_BLOCK(16)

typedef void (*fnn_bf16_block)(int, const uint32_t *, long, long, const uint32_t *, float *, long, int);
#define FNN_BF16_NARROW_ROWS 16
static const fnn_bf16_block narrowBlocks[FNN_BF16_NARROW_ROWS + 1] = {
    0, narrow_1, narrow_2, narrow_3, narrow_4, narrow_5, narrow_6, narrow_7, narrow_8,
    narrow_9, narrow_10, narrow_11, narrow_12, narrow_13, narrow_14, narrow_15, narrow_16};
// Eight rows: 16 accumulators, two B vectors and a broadcast fit AVX-512's 32 registers (twelve
// rows spilled and ran at a third of the speed; six reached 85% of eight).
#define FNN_BF16_ROWS 8
static const fnn_bf16_block blocks[FNN_BF16_ROWS + 1] = {0, block_1, block_2, block_3, block_4, block_5, block_6,
                                                         block_7, block_8};

void fnn_bf16_gemm(int m, int n, int pairs, const uint32_t *a, long aRow, long aPair,
                   const uint32_t *b, float *c, long ldc) {
    for (int j = 0; j < n; j += FNN_BF16_PANEL) {
        const uint32_t *panel = b + (long)(j / FNN_BF16_PANEL) * pairs * FNN_BF16_PANEL;
        int columns = n - j < FNN_BF16_PANEL ? n - j : FNN_BF16_PANEL;
        if (columns <= 16) {
            for (int i = 0; i < m; i += FNN_BF16_NARROW_ROWS) {
                int rows = m - i < FNN_BF16_NARROW_ROWS ? m - i : FNN_BF16_NARROW_ROWS;
                narrowBlocks[rows](pairs, a + (long)i * aRow, aRow, aPair, panel, c + (long)i * ldc + j, ldc, columns);
            }
            continue;
        }
        for (int i = 0; i < m; i += FNN_BF16_ROWS) {
            int rows = m - i < FNN_BF16_ROWS ? m - i : FNN_BF16_ROWS;
            blocks[rows](pairs, a + (long)i * aRow, aRow, aPair, panel, c + (long)i * ldc + j, ldc, columns);
        }
    }
}
