// scratch.h — per-thread scratch memory of the compressed-weight kernels.
//
// A decode step calls every linear layer once per token; a fresh malloc of
// the look-up tables (hundreds of KiB) each time would cost page faults, so
// each calling thread keeps one buffer that only grows. The OpenMP workers
// of a call share the caller's buffer through the pointer it is handed.
#ifndef CRVQ_KERNELS_SCRATCH_H
#define CRVQ_KERNELS_SCRATCH_H

#include <stddef.h>

// A 64-byte aligned buffer of at least `bytes`, valid until the next call on
// this thread; its contents are not kept. The kernels that use it return
// void (they sit under crvq_linear_forward), so running out of memory for a
// few MiB of scratch aborts with a message rather than returning NULL.
void *crvq_scratch(size_t bytes);

// Round a byte count up to a whole number of cache lines, to carve several
// aligned arrays out of one scratch buffer.
static inline size_t crvq_scratch_align(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

#endif
