// vq_layer.h — helpers around crvq_vq_layer (include/crvq.h) shared by the
// VQ / CRVQ quantizer, dequantization and bits accounting.
//
// Layout reminder: row r, group g (permuted order) uses basic code
// codes[r*n_groups + g] and, when g < n_crit, extended code k (1..M-1)
// codes_ext[(r*n_crit + g)*(M-1) + k-1].
#ifndef CRVQ_QUANT_VQ_LAYER_H
#define CRVQ_QUANT_VQ_LAYER_H

#include "crvq.h"

// Codebooks group g uses: M for critical groups, 1 (the basic one) otherwise.
static inline int crvq_vq_group_books(const crvq_vq_layer *L, int g) { return g < L->n_crit ? L->M : 1; }

// The code of codebook k (0 = basic) for row r, group g (g < n_crit if k > 0).
static inline uint16_t *crvq_vq_code(const crvq_vq_layer *L, int r, int g, int k) {
    if (k == 0) return &L->codes[(size_t)r * L->n_groups + g];
    return &L->codes_ext[((size_t)r * L->n_crit + g) * (L->M - 1) + (k - 1)];
}

// Allocate every array of a layer with the given shape (codebooks, codes and
// scales zeroed; perm allocated when with_perm, else NULL). e[k] for k >= M
// is stored as 0. On failure nothing stays allocated.
crvq_status crvq_vq_layer_alloc(crvq_vq_layer *L, int m_out, int n_in, int d, int M, const int *e,
                                int n_crit, int with_perm);

// Rows [r0, r1) of the unscaled reconstruction U, permuted column order,
// into u (r1 - r0, n_in): u[g] = Σ_{k < books(g)} cb[k][code(r, g, k)].
// cb: codebooks to use, (2^e[k], d) each; NULL means L->codebooks.
void crvq_vq_unscaled_rows(const crvq_vq_layer *L, float *const *cb, int r0, int r1, float *u);

#endif
