#ifndef FNN_PAR_THREAD_SUPPORT_H
#define FNN_PAR_THREAD_SUPPORT_H
#include <stdint.h>
// What Swift cannot call directly: cpu_set_t macros, the variadic syscall() behind futexes, and
// C11 atomics on a plain address that a futex can also wait on. One call each, no logic; the typed
// Swift layer is Sources/FNNThreads/ThreadSupport.swift.

/// 0 or an errno value.
int fnnpar_pin_current_thread_to_cpu(int cpu);
/// CPUs in the calling thread's affinity mask (taskset, cpusets), or -1.
int fnnpar_allowed_cpu_count(void);
/// Lets the calling thread run on any of `cpus` (undoing an earlier pin); 0 or an errno value.
int fnnpar_allow_current_thread_on_cpus(const int *cpus, int count);

uint32_t fnnpar_atomic_load(const uint32_t *address);
void fnnpar_atomic_store(uint32_t *address, uint32_t value);
/// Returns the previous value.
uint32_t fnnpar_atomic_fetch_add(uint32_t *address, uint32_t value);
uint32_t fnnpar_atomic_fetch_sub(uint32_t *address, uint32_t value);

uint64_t fnnpar_atomic_load64(const uint64_t *address);
void fnnpar_atomic_store64(uint64_t *address, uint64_t value);
/// Returns 1 and stores `desired` if *address == expected, else returns 0.
int fnnpar_atomic_compare_exchange64(uint64_t *address, uint64_t expected, uint64_t desired);

/// Sleeps while *address == expected (returns at once otherwise, or on a wake or a signal).
void fnnpar_futex_wait(uint32_t *address, uint32_t expected);
void fnnpar_futex_wake_all(uint32_t *address);
void fnnpar_futex_wake(uint32_t *address, int count);

/// The CPU's spin-wait hint (x86 PAUSE).
void fnnpar_cpu_relax(void);
#endif
