// rtn.c — round-to-nearest: every (row, group of group_size columns) gets its
// own asymmetric grid from its min and max (scalar.h); no Hessian involved.
#include "quant/quant_internal.h"
#include "quant/scalar.h"

#include <assert.h>

crvq_status crvq_rtn_quantize(const float *W, int m_out, int n_in, const crvq_quant_params *p,
                              crvq_scalar_fit *out) {
    assert(W && p && out);
    int gs = p->group_size, bits = p->bits, n_groups = n_in / gs;
    crvq_status st = crvq_scalar_fit_alloc(out, m_out, n_in, bits, gs);
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
