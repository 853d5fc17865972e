// Random-access ceiling of this machine, one core: how many 64-byte lines per second can be read,
// and read-modified-written, at random addresses in a buffer far larger than the caches, with
// independent accesses (the CPU may overlap as many misses as it can). The lazy table update and
// the embedding gathers of a large table are bounded by this rate, not by bandwidth or FLOPs.
//   cc -O2 -march=native perf/memprobe.c -o perf/out/memprobe && perf/out/memprobe [MiB]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 1024;
    size_t lines = mib * 1024 * 1024 / 64;
    char *buffer = aligned_alloc(2 << 20, lines * 64);
    madvise(buffer, lines * 64, MADV_HUGEPAGE);
    memset(buffer, 1, lines * 64);
    size_t n = 20 * 1000 * 1000;
    uint32_t *index = malloc(n * sizeof *index);
    uint64_t seed = 1;
    for (size_t i = 0; i < n; i++) index[i] = (uint32_t)(next(&seed) % lines);
    for (int pass = 0; pass < 2; pass++) {
        volatile uint64_t sink = 0;
        double t = now();
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) sum += *(uint64_t *)(buffer + (size_t)index[i] * 64);
        sink = sum;
        double read = n / (now() - t);
        t = now();
        for (size_t i = 0; i < n; i++) {
            if (i + 16 < n) __builtin_prefetch(buffer + (size_t)index[i + 16] * 64, 1, 3);
            (*(uint64_t *)(buffer + (size_t)index[i] * 64))++;
        }
        double update = n / (now() - t);
        t = now();
        for (size_t i = 0; i < n; i++) sum += *(uint64_t *)(buffer + (size_t)(i * 977 % lines) * 64);
        sink = sum;
        (void)sink;
        if (pass == 1)
            printf("%zu MiB buffer: random line reads %.1f M/s, random line updates (prefetched) %.1f M/s\n", mib,
                   read / 1e6, update / 1e6);
    }
    return 0;
}
