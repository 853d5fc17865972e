// Core-to-core cache-line latency: two threads pinned to two CPUs pass a counter back and forth
// through one cache line; each hand-over moves the line between the cores. Prints the one-way
// latency. Synchronous data-parallel FM steps move their table and gradient lines this way every
// step, so this is the control that explains their two-thread scaling on a given host at a given
// time (the capacity control only measures independent work).
//   cc -O2 -pthread perf/pingpong.c -o perf/out/pingpong && perf/out/pingpong [cpuA cpuB]
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { rounds = 2000000 };
static _Alignas(64) _Atomic long line;
static int cpus[2];

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *partner(void *unused) {
    (void)unused;
    pin(cpus[1]);
    for (long i = 1; i < 2L * rounds; i += 2) {
        while (atomic_load_explicit(&line, memory_order_acquire) != i) {}
        atomic_store_explicit(&line, i + 1, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv) {
    cpus[0] = argc > 2 ? atoi(argv[1]) : 0;
    cpus[1] = argc > 2 ? atoi(argv[2]) : 1;
    pin(cpus[0]);
    pthread_t thread;
    pthread_create(&thread, NULL, partner, NULL);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < 2L * rounds; i += 2) {
        atomic_store_explicit(&line, i + 1, memory_order_release);
        while (atomic_load_explicit(&line, memory_order_acquire) != i + 2) {}
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(thread, NULL);
    double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
    printf("core-to-core line transfer, CPUs %d and %d: %.0f ns one way\n", cpus[0], cpus[1],
           seconds * 1e9 / (2.0 * rounds));
    return 0;
}
