// layout.c — the shape of a VQ / CRVQ layer before any work is done: how
// many codebooks it stores, its critical groups, whether it is permuted,
// and so its exact bits per weight (`crvq quantize --dry-run`).
#include "quant/quant_internal.h"

#include "model/bits.h"

#include <math.h>

void crvq_vq_layout(const crvq_quant_params *p, int n_in, int *M, int *n_crit, int *relax) {
    int ng = n_in / p->d;
    *M = p->M;
    *n_crit = ng;
    *relax = 0;
    if (p->method == CRVQ_METHOD_CRVQ && p->M > 1) {
        // The epsilon keeps λ·n_in/d that should be an integer from rounding down.
        double gc = floor((double)n_in * p->lambda / p->d + 1e-9);
        if (gc < 1) {
            *M = 1; // no vector would use the extended codebooks: none stored
        } else if (gc < ng) {
            *relax = 1;
            *n_crit = (int)gc;
        }
    }
}

double crvq_planned_bits(const crvq_quant_params *p, int m_out, int n_in) {
    if (p->method == CRVQ_METHOD_RTN || p->method == CRVQ_METHOD_GPTQ)
        return crvq_scalar_shape_bits(m_out, n_in, p->bits, p->group_size);
    crvq_vq_shape s = {.m_out = m_out, .n_in = n_in, .d = p->d, .e = p->e};
    crvq_vq_layout(p, n_in, &s.M, &s.n_crit, &s.permuted); // only a relaxed layer is permuted
    return crvq_vq_shape_bits(&s);
}
