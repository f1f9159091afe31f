// rtn.c — round-to-nearest: every (row, group of group_size columns) gets its
// own asymmetric grid from its min and max (scalar.h); no Hessian involved.
#include "quant/quant_internal.h"
#include "quant/scalar.h"
#include "util/free_all.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

crvq_status crvq_scalar_layer_alloc(crvq_scalar_layer *L, int m_out, int n_in, int bits, int group_size) {
    assert(m_out > 0 && n_in > 0 && group_size > 0 && n_in % group_size == 0);
    size_t n_groups = (size_t)m_out * (size_t)(n_in / group_size);
    *L = (crvq_scalar_layer){.m_out = m_out, .n_in = n_in, .bits = bits, .group_size = group_size};
    L->q = malloc((size_t)m_out * n_in);
    L->scale = malloc(n_groups * sizeof *L->scale);
    L->zero = malloc(n_groups * sizeof *L->zero);
    if (!L->q || !L->scale || !L->zero) {
        crvq_scalar_layer_free(L);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a %d x %d scalar-quantized layer", m_out, n_in);
    }
    return CRVQ_OK;
}

void crvq_scalar_layer_free(crvq_scalar_layer *L) {
    if (!L) return;
    crvq_free_all(L->q, L->scale, L->zero);
    memset(L, 0, sizeof *L);
}

crvq_status crvq_rtn_quantize(const float *W, int m_out, int n_in, const crvq_quant_params *p,
                              crvq_scalar_layer *out) {
    assert(W && p && out);
    int gs = p->group_size, bits = p->bits, n_groups = n_in / gs;
    crvq_status st = crvq_scalar_layer_alloc(out, m_out, n_in, bits, gs);
    if (st != CRVQ_OK) return st;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m_out; r++) {
        for (int g = 0; g < n_groups; g++) {
            const float *w = W + (size_t)r * n_in + (size_t)g * gs; // (gs)
            double lo = w[0], hi = w[0];
            for (int c = 1; c < gs; c++) {
                lo = w[c] < lo ? w[c] : lo;
                hi = w[c] > hi ? w[c] : hi;
            }
            size_t gi = (size_t)r * n_groups + g;
            crvq_scalar_grid(lo, hi, bits, &out->scale[gi], &out->zero[gi]);
            uint8_t *q = out->q + (size_t)r * n_in + (size_t)g * gs;
            for (int c = 0; c < gs; c++) q[c] = (uint8_t)crvq_scalar_code(w[c], out->scale[gi], out->zero[gi], bits);
        }
    }
    return CRVQ_OK;
}
