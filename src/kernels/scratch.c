// scratch.c — the per-thread grow-only scratch buffer (scratch.h).
#include "kernels/scratch.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local void *buf;
static _Thread_local size_t cap;

void *crvq_scratch(size_t bytes) {
    if (bytes <= cap) return buf;
    free(buf);
    // grow geometrically so that a sequence of slightly larger layers does
    // not reallocate at each one
    size_t want = crvq_scratch_align(bytes > cap * 2 ? bytes : cap * 2);
    buf = aligned_alloc(64, want);
    if (!buf) {
        fprintf(stderr, "crvq: out of memory for %zu bytes of kernel scratch\n", want);
        abort();
    }
    cap = want;
    return buf;
}
