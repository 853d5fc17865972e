#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CThreadSupport.h"

int fnnpar_pin_current_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int fnnpar_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int fnnpar_allow_current_thread_on_cpus(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) CPU_SET(cpus[i], &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

uint32_t fnnpar_atomic_load(const uint32_t *address) {
    return atomic_load((const _Atomic uint32_t *)address);
}

void fnnpar_atomic_store(uint32_t *address, uint32_t value) {
    atomic_store((_Atomic uint32_t *)address, value);
}

uint32_t fnnpar_atomic_fetch_add(uint32_t *address, uint32_t value) {
    return atomic_fetch_add((_Atomic uint32_t *)address, value);
}

uint32_t fnnpar_atomic_fetch_sub(uint32_t *address, uint32_t value) {
    return atomic_fetch_sub((_Atomic uint32_t *)address, value);
}

uint64_t fnnpar_atomic_load64(const uint64_t *address) {
    return atomic_load((const _Atomic uint64_t *)address);
}

void fnnpar_atomic_store64(uint64_t *address, uint64_t value) {
    atomic_store((_Atomic uint64_t *)address, value);
}

int fnnpar_atomic_compare_exchange64(uint64_t *address, uint64_t expected, uint64_t desired) {
    return atomic_compare_exchange_strong((_Atomic uint64_t *)address, &expected, desired);
}

void fnnpar_futex_wait(uint32_t *address, uint32_t expected) {
    syscall(SYS_futex, address, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

void fnnpar_futex_wake_all(uint32_t *address) {
    syscall(SYS_futex, address, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void fnnpar_futex_wake(uint32_t *address, int count) {
    syscall(SYS_futex, address, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

void fnnpar_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
