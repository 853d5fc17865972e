#include "CBuildInfo.h"

#ifndef FNN_PAR_TARGET_CPU
#define FNN_PAR_TARGET_CPU "unknown"
#endif

const char *fnnpar_build_target_cpu(void) { return FNN_PAR_TARGET_CPU; }
