#ifndef FNN_PAR_MAPPING_FAULTS_H
#define FNN_PAR_MAPPING_FAULTS_H
#include <stddef.h>
// A mapped data file that is truncated or rewritten while it is read faults (SIGBUS, or SIGSEGV
// past its end) on the next touch of a vanished page. These calls keep a table of mapped ranges
// and install a handler that, for a fault inside one, writes that mapping's message and exits
// with status 1; any other fault keeps its default action (a crash with a core). Swift cannot
// write a signal handler that only calls async-signal-safe functions, hence C.

// Registers [base, base + size) with the message to print; returns a slot, or -1 if the table
// (64 mappings) is full, in which case faults there crash as before.
int fnnpar_register_mapping(const void *base, size_t size, const char *message);
void fnnpar_unregister_mapping(int slot);
// Installs the SIGBUS and SIGSEGV handlers (once; later calls do nothing).
void fnnpar_install_mapping_fault_handler(void);
#endif
