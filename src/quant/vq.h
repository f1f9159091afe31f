// vq.h — internal entry points of the VQ / CRVQ quantizer (vq.c) for tests
// and benchmarks; crvq_vq_quantize (quant_internal.h) is the plain call.
#ifndef CRVQ_QUANT_VQ_H
#define CRVQ_QUANT_VQ_H

#include <stdio.h>

#include "crvq.h"

// Conjugate-gradient iterations of each continuous step (one SGEMM each);
// docs/quantization.md has the measurements behind the choice.
#define CRVQ_VQ_CG_ITERS 1

typedef struct crvq_vq_opts {
    int cg_iters;     // CG iterations per continuous step
    int block_groups; // groups per lazy V update of the code search; 0: the default (128 columns)
    double *losses;   // (max_rounds + 1) or NULL: L after initialisation and after each round
                      // (the quantizer's own float64 bookkeeping, before fp16 rounding)
    FILE *trace;      // if not NULL: one line per stage and round (seconds, L / L(0))
    crvq_vq_trace *stats; // if not NULL: receives the stage times and L per round (allocated
                          // here; crvq_vq_trace_free releases it)
} crvq_vq_opts;

// crvq_vq_opts_default, with the CG iterations of p (p->cg_iters, 0: the default).
void crvq_vq_opts_default(crvq_vq_opts *o);
void crvq_vq_opts_from_params(crvq_vq_opts *o, const crvq_quant_params *p);

// A trace with room for max_rounds rounds (zeroed arrays), and its release.
crvq_status crvq_vq_trace_alloc(crvq_vq_trace *t, int max_rounds);
void crvq_vq_trace_free(crvq_vq_trace *t);

// crvq_vq_quantize with explicit options.
crvq_status crvq_vq_quantize_ex(const float *W, int m_out, int n_in, const double *H,
                                const crvq_quant_params *p, const crvq_vq_opts *o, crvq_vq_layer *out,
                                int *rounds);

#endif
