// OpenBLAS's CBLAS interface and its thread-count control. No logic here: the typed Swift layer
// is Sources/FNNCore/Kernels/BLAS.swift.
#include <cblas.h>
