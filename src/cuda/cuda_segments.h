// cuda_segments.h — items grouped by their code on the GPU: the sorted
// order that lets every per-codeword sum (k-means means, the codebook
// gradient and preconditioner) run with one owner per codeword and a fixed
// order, without atomics (src/cuda/cu_sort.cu).
#ifndef CRVQ_CUDA_SEGMENTS_H
#define CRVQ_CUDA_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

typedef struct crvq_cu_segs {
    size_t cap;           // items room
    int kcap;             // keys room
    uint16_t *keys_in, *keys_out;
    uint32_t *vals_in;
    uint32_t *items;      // (N) item indices, stably sorted by code
    int *start, *end;     // (K) segment of each code in items
    void *tmp;            // cub's scratch
    size_t tmp_bytes;
} crvq_cu_segs;

crvq_status crvq_cu_segs_alloc(crvq_cu_segs *s, size_t cap, int kcap);
void crvq_cu_segs_free(crvq_cu_segs *s);

// Group items 0..N-1 by code codes[i·stride + off] (< 2^bits <= kcap).
crvq_status crvq_cu_segs_build(crvq_cu_segs *s, const uint16_t *codes, size_t N, int stride, int off, int bits);

#endif
