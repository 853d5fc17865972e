// libzstd's streaming decompression, for zstd-compressed data files. No logic here: the typed
// Swift layer is Sources/FNNCore/Data/CompressedFile.swift.
#include <zstd.h>
