// vq_fit.h — the layer a VQ / CRVQ quantization is fitting: the
// quantizer's private working form (its steps, the CPU's src/quant/ and the
// GPU's src/cuda/cuda_vq.c, change it in place), and its one way out,
// crvq_vq_emit, which makes the stored form (crvq_vq_layer, crvq.h) that
// the container writes and the kernels read.
//
// Row r, group g (permuted column order) is reconstructed as
//   ŵ[r,g] = scales[r] * ( C0[codes[r,g]] + [g < n_crit] Σ_{k=1..M-1} Ck[codes_ext[r,g,k-1]] )
// and permuted column j is original column perm[j]: the stored form's
// formula, with float32 codebooks and scales (the optimisation needs them
// unrounded) and every code in uint16 (whatever its codebook's width).
//
// Layout reminder: row r, group g (permuted order) uses basic code
// codes[r*n_groups + g] and, when g < n_crit, extended code k (1..M-1)
// codes_ext[(r*n_crit + g)*(M-1) + k-1].
#ifndef CRVQ_QUANT_VQ_FIT_H
#define CRVQ_QUANT_VQ_FIT_H

#include "crvq.h"

typedef struct crvq_vq_fit {
    int m_out, n_in;
    int d, M;
    int e[CRVQ_MAX_CODEBOOKS];
    int n_groups;       // n_in / d
    int n_crit;         // G_c: groups [0, n_crit) use all M codebooks
    float *codebooks[CRVQ_MAX_CODEBOOKS]; // k: (2^e[k], d)
    uint16_t *codes;    // basic codes (m_out, n_groups)
    uint16_t *codes_ext;// extended codes (m_out, n_crit, M-1); NULL if none
    float *scales;      // (m_out)
    int32_t *perm;      // (n_in); NULL means identity (no permutation stored)
} crvq_vq_fit;

// Codebooks group g uses: M for critical groups, 1 (the basic one) otherwise.
static inline int crvq_vq_group_books(const crvq_vq_fit *L, int g) { return g < L->n_crit ? L->M : 1; }

// The code of codebook k (0 = basic) for row r, group g (g < n_crit if k > 0).
static inline uint16_t *crvq_vq_code(const crvq_vq_fit *L, int r, int g, int k) {
    if (k == 0) return &L->codes[(size_t)r * L->n_groups + g];
    return &L->codes_ext[((size_t)r * L->n_crit + g) * (L->M - 1) + (k - 1)];
}

// Allocate every array of a layer with the given shape (codebooks, codes and
// scales zeroed; perm allocated when with_perm, else NULL). e[k] for k >= M
// is stored as 0. On failure nothing stays allocated.
crvq_status crvq_vq_fit_alloc(crvq_vq_fit *L, int m_out, int n_in, int d, int M, const int *e,
                              int n_crit, int with_perm);
void crvq_vq_fit_free(crvq_vq_fit *L);

// Rows [r0, r1) of the unscaled reconstruction U, permuted column order,
// into u (r1 - r0, n_in): u[g] = Σ_{k < books(g)} cb[k][code(r, g, k)].
// cb: codebooks to use, (2^e[k], d) each; NULL means L->codebooks.
void crvq_vq_unscaled_rows(const crvq_vq_fit *L, float *const *cb, int r0, int r1, float *u);

// Step 6 of the quantizer, on every device: the stored form of the fitted
// layer, in one allocation that *out owns (crvq_vq_layer_free): codebooks
// and scales rounded to fp16 (to nearest, saturating at ±65504), codes at
// their stored width (crvq_vq_code_bytes), the permutation copied.
crvq_status crvq_vq_emit(const crvq_vq_fit *L, crvq_vq_layer *out);

#endif
