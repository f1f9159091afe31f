// scalar_fit.c — the layer RTN and GPTQ fit: allocation, release, and its
// stored form (crvq_scalar_emit).
#include "quant/scalar.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scratch.h"
#include "kernels/sq_weights.h"
#include "util/error.h"
#include "util/free_all.h"

crvq_status crvq_scalar_fit_alloc(crvq_scalar_fit *L, int m_out, int n_in, int bits, int group_size) {
    assert(m_out > 0 && n_in > 0 && group_size > 0 && n_in % group_size == 0);
    size_t n_groups = (size_t)m_out * (size_t)(n_in / group_size);
    *L = (crvq_scalar_fit){.m_out = m_out, .n_in = n_in, .bits = bits, .group_size = group_size};
    L->q = malloc((size_t)m_out * n_in);
    L->scale = malloc(n_groups * sizeof *L->scale);
    L->zero = malloc(n_groups * sizeof *L->zero);
    if (!L->q || !L->scale || !L->zero) {
        crvq_scalar_fit_free(L);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a %d x %d scalar-quantized layer", m_out, n_in);
    }
    return CRVQ_OK;
}

void crvq_scalar_fit_free(crvq_scalar_fit *L) {
    if (!L) return;
    crvq_free_all(L->q, L->scale, L->zero);
    memset(L, 0, sizeof *L);
}

crvq_status crvq_scalar_emit(const crvq_scalar_fit *L, crvq_scalar_layer *out) {
    memset(out, 0, sizeof *out);
    const int m = L->m_out, n = L->n_in;
    const size_t ng = (size_t)m * (n / L->group_size), rb = crvq_scalar_row_bytes(n, L->bits);
    // one block: scale (ng) | zero (ng) | packed codes (m, rb)
    const size_t sz_h = crvq_scratch_align(ng * 2);
    char *blk = malloc(2 * sz_h + (size_t)m * rb + 1);
    if (!blk) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory storing a %d x %d scalar-quantized layer", m, n);
    uint16_t *sc = (uint16_t *)blk, *ze = (uint16_t *)(blk + sz_h);
    // the grid keeps scale and zero fp16-exact, so these conversions are exact
    for (size_t i = 0; i < ng; i++) {
        sc[i] = crvq_f32_to_f16(L->scale[i]);
        ze[i] = crvq_f32_to_f16(L->zero[i]);
    }
    uint8_t *q = (uint8_t *)(blk + 2 * sz_h);
    crvq_scalar_pack(L->q, m, n, L->bits, q);
    *out = (crvq_scalar_layer){.m_out = m, .n_in = n, .bits = L->bits, .group_size = L->group_size, .q = q,
                               .scale = sc, .zero = ze, .owned = blk};
    return CRVQ_OK;
}
