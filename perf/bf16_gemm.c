// The bf16 kernel (Sources/CGEMM) against OpenBLAS's cblas_sgemm at the FNN's three
// products for a 64-row slice of the Criteo-shaped 400,400,400 MLP's first layer (624 inputs),
// and both against the CPU's ceilings: a loop of independent vdpbf16ps / fp32 FMAs.
//   cc -O2 -Iinclude... (perf/run.sh bf16 builds and runs it)
#include "CGEMM.h"
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float uniform(void) { return (float)(rand() / (double)RAND_MAX) - 0.5f; }
static float rounded(float x) { unsigned u; memcpy(&u, &x, 4); u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u; memcpy(&x, &u, 4); return x; }

__attribute__((target("avx512f,avx512bf16"))) static double dot_ceiling(long n) {
    __m512 acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = x;
    double start = now();
    for (long r = 0; r < n; r++) { for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, y); __asm__ volatile("" : "+v"(x), "+v"(y)); }
    double seconds = now() - start; float s = 0; for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s > 0 ? n * 12.0 * 32 / seconds / 1e9 : 0;
}
__attribute__((target("avx512f,fma"))) static double fma_ceiling(long n) {
    __m512 acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512 x = _mm512_set1_ps(1), y = _mm512_set1_ps(1e-9f);
    double start = now();
    for (long r = 0; r < n; r++) { for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(x, y, acc[i]); __asm__ volatile("" : "+v"(x), "+v"(y)); }
    double seconds = now() - start; float s = 0; for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s > 0 ? n * 12.0 * 16 / seconds / 1e9 : 0;
}

int main(void) {
    if (!fnn_bf16_supported()) { printf("this CPU has no AVX512-BF16\n"); return 0; }
    openblas_set_num_threads(1);
    enum { R = 64, IN = 624, OUT = 400, REPS = 2000 };
    long pin = (IN + 1) / 2, pout = (OUT + 1) / 2, prow = (R + 1) / 2, block = (OUT + 15) / 16 * 16;
    float *x = malloc(4L * R * IN), *w = malloc(4L * OUT * IN), *dz = malloc(4L * R * OUT);
    float *y = malloc(4L * R * OUT), *y16 = malloc(4L * R * OUT), *dw = malloc(4L * OUT * IN), *dw16 = malloc(4L * OUT * IN);
    float *dx = malloc(4L * R * IN), *dx16 = malloc(4L * R * IN);
    for (long i = 0; i < R * IN; i++) x[i] = uniform();
    for (long i = 0; i < OUT * IN; i++) w[i] = 0.1f * uniform();
    for (long i = 0; i < R * OUT; i++) dz[i] = uniform();
    uint32_t *wf = aligned_alloc(64, 4 * pin * ((OUT + 31) / 32 * 32)), *wb = aligned_alloc(64, 4 * pout * ((IN + 31) / 32 * 32));
    uint16_t *rows = aligned_alloc(64, 4 * R * pin);
    uint32_t *pairs = aligned_alloc(64, 4 * prow * block), *panels = aligned_alloc(64, 4 * prow * ((IN + 31) / 32 * 32));
    fnn_bf16_pack_transposed(w, IN, OUT, IN, wf);
    fnn_bf16_pack_row_pairs(w, IN, OUT, IN, wb, 32);
    double macs = (double)R * IN * OUT * REPS, t, sgemm, bf16, err;
    printf("ceilings on one core: vdpbf16ps %.0f GMAC/s, fp32 FMA (AVX-512) %.0f GMAC/s\n", dot_ceiling(100000000), fma_ceiling(100000000));
    printf("product (64-row slice)        sgemm GMAC/s  bf16 GMAC/s  ratio  max |error| vs exact on rounded operands\n");

    t = now(); for (int r = 0; r < REPS; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, OUT, IN, 1, x, IN, w, IN, 0, y, OUT); sgemm = now() - t;
    t = now(); for (int r = 0; r < REPS; r++) { fnn_bf16_convert_rows(x, IN, R, IN, rows, 2 * pin); fnn_bf16_gemm(R, OUT, pin, (uint32_t *)rows, pin, 1, wf, y16, OUT); } bf16 = now() - t;
    err = 0; for (int i = 0; i < R; i++) for (int j = 0; j < OUT; j++) { double s = 0; for (int k = 0; k < IN; k++) s += (double)rounded(x[i * IN + k]) * rounded(w[j * IN + k]); err = fmax(err, fabs(s - y16[i * OUT + j])); }
    printf("forward  y = x W^T  64x400x624 %12.1f %12.1f %6.2fx  %.1e\n", macs / sgemm / 1e9, macs / bf16 / 1e9, sgemm / bf16, err);

    t = now(); for (int r = 0; r < REPS; r++) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, R, 1, dz, OUT, x, IN, 0, dw, IN); sgemm = now() - t;
    t = now(); for (int r = 0; r < REPS; r++) { fnn_bf16_pack_row_pairs(dz, OUT, R, OUT, pairs, block); fnn_bf16_pack_row_pairs(x, IN, R, IN, panels, 32); fnn_bf16_gemm(OUT, IN, prow, pairs, 1, block, panels, dw16, IN); } bf16 = now() - t;
    err = 0; for (int i = 0; i < OUT; i++) for (int j = 0; j < IN; j++) { double s = 0; for (int k = 0; k < R; k++) s += (double)rounded(dz[k * OUT + i]) * rounded(x[k * IN + j]); err = fmax(err, fabs(s - dw16[i * IN + j])); }
    printf("weight   dW = dZ^T x 400x624x64 %11.1f %12.1f %6.2fx  %.1e\n", macs / sgemm / 1e9, macs / bf16 / 1e9, sgemm / bf16, err);

    t = now(); for (int r = 0; r < REPS; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, IN, OUT, 1, dz, OUT, w, IN, 0, dx, IN); sgemm = now() - t;
    t = now(); for (int r = 0; r < REPS; r++) { fnn_bf16_convert_rows(dz, OUT, R, OUT, rows, 2 * pout); fnn_bf16_gemm(R, IN, pout, (uint32_t *)rows, pout, 1, wb, dx16, IN); } bf16 = now() - t;
    err = 0; for (int i = 0; i < R; i++) for (int j = 0; j < IN; j++) { double s = 0; for (int k = 0; k < OUT; k++) s += (double)rounded(dz[i * OUT + k]) * rounded(w[k * IN + j]); err = fmax(err, fabs(s - dx16[i * IN + j])); }
    printf("input    dX = dZ W   64x624x400 %11.1f %12.1f %6.2fx  %.1e\n", macs / sgemm / 1e9, macs / bf16 / 1e9, sgemm / bf16, err);

    t = now(); for (int r = 0; r < REPS; r++) { fnn_bf16_pack_transposed(w, IN, OUT, IN, wf); fnn_bf16_pack_row_pairs(w, IN, OUT, IN, wb, 32); }
    printf("packing one 400x624 weight in both layouts: %.0f us (once per step per worker)\n", (now() - t) / REPS * 1e6);
    return 0;
}
