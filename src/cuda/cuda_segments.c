// cuda_segments.c — see cuda_segments.h.
#include "cuda/cuda_segments.h"

#include <limits.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "util/error.h"

crvq_status crvq_cu_segs_alloc(crvq_cu_segs *s, size_t cap, int kcap) {
    memset(s, 0, sizeof *s);
    if (cap > INT_MAX) return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: %zu vectors exceed the sort's limit", cap);
    s->cap = cap;
    s->kcap = kcap;
    crvq_status st = crvq_cu_alloc(&s->keys_in, cap * sizeof(uint16_t), "sort keys");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&s->keys_out, cap * sizeof(uint16_t), "sort keys");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&s->vals_in, cap * sizeof(uint32_t), "sort values");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&s->items, cap * sizeof(uint32_t), "sort values");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&s->start, (size_t)kcap * sizeof(int), "segments");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&s->end, (size_t)kcap * sizeof(int), "segments");
    if (st != CRVQ_OK) crvq_cu_segs_free(s);
    return st;
}

void crvq_cu_segs_free(crvq_cu_segs *s) {
    crvq_cu_free(s->keys_in);
    crvq_cu_free(s->keys_out);
    crvq_cu_free(s->vals_in);
    crvq_cu_free(s->items);
    crvq_cu_free(s->start);
    crvq_cu_free(s->end);
    crvq_cu_free(s->tmp);
    memset(s, 0, sizeof *s);
}

crvq_status crvq_cu_segs_build(crvq_cu_segs *s, const uint16_t *codes, size_t N, int stride, int off, int bits) {
    if (N > s->cap || (1 << bits) > s->kcap)
        return crvq_fail(CRVQ_ERR_INVALID, "cuda: %zu items of %d-bit codes exceed the segments' room", N, bits);
    crvq_status st = crvq_cu_check(crvq_cu_extract_codes(codes, N, stride, off, s->keys_in, s->vals_in), "codes");
    size_t need = 0;
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_sort_pairs(NULL, &need, s->keys_in, s->keys_out, s->vals_in, s->items, (int)N,
                                              bits),
                           "sort size");
    if (st == CRVQ_OK && need > s->tmp_bytes) {
        crvq_cu_free(s->tmp);
        s->tmp_bytes = 0;
        st = crvq_cu_alloc(&s->tmp, need, "sort scratch");
        if (st == CRVQ_OK) s->tmp_bytes = need;
    }
    size_t have = s->tmp_bytes;
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_sort_pairs(s->tmp, &have, s->keys_in, s->keys_out, s->vals_in, s->items, (int)N,
                                              bits),
                           "sort");
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_segments(s->keys_out, (int)N, 1 << bits, s->start, s->end), "segments");
    return st;
}
