#ifndef FNN_PAR_BUILD_INFO_H
#define FNN_PAR_BUILD_INFO_H
// What the build was made for, as the manifest passed it (FNN_PAR_TARGET_CPU): Swift has no
// string-valued compile-time defines, C does. One function, no logic.

/// The `-target-cpu` the Swift targets were compiled for ("native" or e.g. "x86-64-v3").
const char *fnnpar_build_target_cpu(void);
#endif
