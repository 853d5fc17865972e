#define _GNU_SOURCE
#include "mapping_faults.h"
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { slot_count = 64, message_bytes = 1024 };

struct mapping {
    // Nonzero while the slot is live; written last on registration, first on removal, so the
    // handler never reads a half-written range.
    _Atomic int live;
    uintptr_t begin, end;
    char message[message_bytes];
    size_t length;
};

static struct mapping mappings[slot_count];
static _Atomic int installed;
// What SIGBUS and SIGSEGV did before (the Swift runtime's backtracer, or the default).
static struct sigaction previous_bus, previous_segv;

int fnnpar_register_mapping(const void *base, size_t size, const char *message) {
    for (int i = 0; i < slot_count; i++) {
        int expected = 0;
        // -1 claims the slot while it is filled in; the handler only trusts 1.
        if (!atomic_compare_exchange_strong(&mappings[i].live, &expected, -1)) continue;
        mappings[i].begin = (uintptr_t)base;
        mappings[i].end = (uintptr_t)base + size;
        size_t n = strlen(message);
        if (n > message_bytes - 2) n = message_bytes - 2;
        memcpy(mappings[i].message, message, n);
        mappings[i].message[n] = '\n';
        mappings[i].length = n + 1;
        atomic_store(&mappings[i].live, 1);
        return i;
    }
    return -1;
}

void fnnpar_unregister_mapping(int slot) {
    if (slot >= 0 && slot < slot_count) atomic_store(&mappings[slot].live, 0);
}

static void on_fault(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < slot_count; i++) {
        if (atomic_load(&mappings[i].live) != 1) continue;
        if (address >= mappings[i].begin && address < mappings[i].end) {
            ssize_t ignored = write(STDERR_FILENO, mappings[i].message, mappings[i].length);
            (void)ignored;
            _exit(1);
        }
    }
    // Not ours: the previous action (the fault repeats when the handler returns and reaches it).
    sigaction(signal_number, signal_number == SIGBUS ? &previous_bus : &previous_segv, NULL);
}

void fnnpar_install_mapping_fault_handler(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous_bus);
    sigaction(SIGSEGV, &action, &previous_segv);
}
