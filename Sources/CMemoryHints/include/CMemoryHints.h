#ifndef FNN_PAR_MEMORY_HINTS_H
#define FNN_PAR_MEMORY_HINTS_H
// The compiler's prefetch hint, which Swift has no spelling for. Static inline, so the Swift
// code that calls it compiles it in place: no call, just the instruction.
static inline void fnnpar_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
static inline void fnnpar_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }
#endif
