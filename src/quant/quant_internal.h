// quant_internal.h — how crvq_quantize_matrix() (src/backend/
// quantize_matrix.c) reaches the method implementations. Each fills its part
// of the result; the dispatcher validates inputs, reconstructs Ŵ, and
// computes loss, bits and time.
#ifndef CRVQ_QUANT_INTERNAL_H
#define CRVQ_QUANT_INTERNAL_H

#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "quant/scalar.h"

// vq.c: VQ (n_crit = n_groups, no permutation) and CRVQ, the layer in its
// stored form (crvq_vq_layer_free, kernels/vq_weights.h, releases it).
// *rounds receives the number of alternating rounds run.
crvq_status crvq_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                             const crvq_quant_params *p, crvq_vq_layer *out, int *rounds);

// quantize.c: VQ or CRVQ (not a scalar method).
int crvq_method_is_vector(crvq_method m);
// quantize.c: p's method parameters are valid for n_in columns (the device
// is the dispatcher's to check).
crvq_status crvq_quant_check_params(const crvq_quant_params *p, int n_in);
// quantize.c: W (m_out, n_in) and H (n_in, n_in) are finite and H is
// symmetric; the message names the first offending entry.
crvq_status crvq_quant_check_inputs(const float *W, int m_out, int n_in, const double *H);
// quantize.c: whether the Cholesky factorisation of H + shift·I (n, n)
// succeeds (LAPACK on the CPU; work: n·n scratch).
int crvq_cholesky_ok(const double *H, int n, double shift, double *work);

// layout.c: the layer's shape from the parameters alone. CRVQ whose
// relaxation is moot is VQ: G_c = 0 stores M = 1, G_c = n_groups all M,
// and only a relaxed layer (0 < G_c < n_groups) is permuted.
void crvq_vq_layout(const crvq_quant_params *p, int n_in, int *M, int *n_crit, int *relax);
// crvq_planned_bits (crvq.h) counts a layout's bits.

// rtn.c / gptq.c: scalar methods, into the working form (quant/scalar.h;
// crvq_scalar_emit stores it).
crvq_status crvq_rtn_quantize(const float *W, int m_out, int n_in, const crvq_quant_params *p,
                              crvq_scalar_fit *out);
crvq_status crvq_gptq_quantize(const float *W, int m_out, int n_in, const double *H,
                               const crvq_quant_params *p, crvq_scalar_fit *out);

#endif
