// libnuma's topology and placement calls. No logic here: the typed Swift layer is
// Sources/FNNThreads/NUMA.swift.
#include <numa.h>
