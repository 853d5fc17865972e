// zlib's streaming inflate, for gzip-compressed data files. No logic here: the typed Swift layer
// is Sources/FNNCore/Data/CompressedFile.swift.
#include <zlib.h>

// inflateInit2 is a macro (it passes the library version and struct size); Swift cannot call it.
// 15 + 32: the largest window, and gzip or zlib headers detected automatically.
static inline int fnnpar_inflate_init_gzip(z_stream *stream) { return inflateInit2(stream, 15 + 32); }
