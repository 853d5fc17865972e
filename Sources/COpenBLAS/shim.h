// OpenBLAS's CBLAS interface and its thread-count control. No logic here: the typed Swift layer
// is Sources/Core/Kernels/BLAS.swift.
#include <cblas.h>
