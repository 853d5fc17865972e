#ifndef FNN_PAR_MEMORY_HINTS_H
#define FNN_PAR_MEMORY_HINTS_H
// The compiler's prefetch hint, which Swift has no spelling for. Static inline, so the Swift
// code that calls it compiles it in place: no call, just the instruction.
static inline void fnnpar_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
// Into L2 only: L2 tracks more misses in flight than L1, so lines wanted further ahead go there.
static inline void fnnpar_prefetch_to_l2(const void *address) { __builtin_prefetch(address, 0, 2); }
static inline void fnnpar_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }
// Hands free heap memory back to the kernel (glibc keeps it otherwise), so a benchmark's peak
// resident set counts only what the current measurement uses.
#include <malloc.h>
static inline void fnnpar_release_free_heap(void) { malloc_trim(0); }
#endif
