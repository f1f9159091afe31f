// vq_fit.c — the quantizer's working layer: allocation, release, and step 6
// (crvq_vq_emit: the stored form the rest of crvq reads).
#include "quant/vq_fit.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scratch.h"
#include "kernels/vq_weights.h"
#include "util/error.h"

crvq_status crvq_vq_fit_alloc(crvq_vq_fit *L, int m_out, int n_in, int d, int M, const int *e,
                                int n_crit, int with_perm) {
    assert(L && e && m_out > 0 && n_in > 0 && d > 0 && n_in % d == 0);
    assert(M >= 1 && M <= CRVQ_MAX_CODEBOOKS && n_crit >= 0 && n_crit <= n_in / d);
    memset(L, 0, sizeof *L);
    L->m_out = m_out;
    L->n_in = n_in;
    L->d = d;
    L->M = M;
    L->n_groups = n_in / d;
    L->n_crit = n_crit;
    int ok = 1;
    for (int k = 0; k < M; k++) {
        assert(e[k] >= 1 && e[k] <= 16);
        L->e[k] = e[k];
        L->codebooks[k] = calloc((size_t)d << e[k], sizeof(float));
        ok = ok && L->codebooks[k];
    }
    L->codes = calloc((size_t)m_out * L->n_groups, sizeof *L->codes);
    if (M > 1 && n_crit > 0) {
        L->codes_ext = calloc((size_t)m_out * n_crit * (M - 1), sizeof *L->codes_ext);
        ok = ok && L->codes_ext;
    }
    L->scales = calloc((size_t)m_out, sizeof *L->scales);
    if (with_perm) {
        L->perm = malloc((size_t)n_in * sizeof *L->perm);
        ok = ok && L->perm;
    }
    if (!ok || !L->codes || !L->scales) {
        crvq_vq_fit_free(L);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for a %d x %d layer", m_out, n_in);
    }
    return CRVQ_OK;
}

void crvq_vq_fit_free(crvq_vq_fit *L) {
    if (!L) return;
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) free(L->codebooks[k]);
    free(L->codes);
    free(L->codes_ext);
    free(L->scales);
    free(L->perm);
    memset(L, 0, sizeof *L);
}

// fp16 storage of codebooks and scales: round to nearest, saturating.
static uint16_t to_fp16(float x) {
    if (x > 65504.0f) x = 65504.0f;
    if (x < -65504.0f) x = -65504.0f;
    return crvq_f32_to_f16(x);
}

// n codes of src at `bytes` each into dst. The search keeps every code
// below 2^e of its codebook, so narrowing to 8 bits loses nothing.
static void store_codes(const uint16_t *src, size_t n, int bytes, void *dst) {
    if (bytes == 2) memcpy(dst, src, n * 2);
    else
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)src[i];
}

crvq_status crvq_vq_emit(const crvq_vq_fit *L, crvq_vq_layer *out) {
    memset(out, 0, sizeof *out);
    const int M = L->M, m = L->m_out, d = L->d;
    const int b0 = crvq_vq_code_bytes(L->e, 0, 1), bx = crvq_vq_code_bytes(L->e, 1, M);
    const size_t n0 = (size_t)m * L->n_groups, nx = L->codes_ext ? (size_t)m * L->n_crit * (M - 1) : 0;
    size_t cb_halves = 0;
    for (int k = 0; k < M; k++) cb_halves += (size_t)d << L->e[k];
    // one block: perm (n_in) | codebooks | scales (m) | codes | extended codes
    const size_t sz_perm = L->perm ? crvq_scratch_align((size_t)L->n_in * 4) : 0;
    const size_t sz_cb = crvq_scratch_align(cb_halves * 2), sz_sc = crvq_scratch_align((size_t)m * 2);
    const size_t sz_c0 = crvq_scratch_align(n0 * b0);
    char *blk = malloc(sz_perm + sz_cb + sz_sc + sz_c0 + nx * bx + 1);
    if (!blk) return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory storing a %d x %d layer", m, L->n_in);
    *out = (crvq_vq_layer){.m_out = m, .n_in = L->n_in, .d = d, .M = M, .n_groups = L->n_groups,
                           .n_crit = L->n_crit, .owned = blk};
    memcpy(out->e, L->e, sizeof out->e);
    if (L->perm) {
        memcpy(blk, L->perm, (size_t)L->n_in * 4);
        out->perm = (const int32_t *)blk;
    }
    uint16_t *h = (uint16_t *)(blk + sz_perm);
    for (int k = 0; k < M; k++) {
        const size_t nk = (size_t)d << L->e[k];
        for (size_t i = 0; i < nk; i++) h[i] = to_fp16(L->codebooks[k][i]);
        out->codebooks[k] = h;
        h += nk;
    }
    uint16_t *sc = (uint16_t *)(blk + sz_perm + sz_cb);
    for (int r = 0; r < m; r++) sc[r] = to_fp16(L->scales[r]);
    out->scales = sc;
    char *codes = blk + sz_perm + sz_cb + sz_sc;
    store_codes(L->codes, n0, b0, codes);
    out->codes = codes;
    if (nx) {
        store_codes(L->codes_ext, nx, bx, codes + sz_c0);
        out->codes_ext = codes + sz_c0;
    }
    return CRVQ_OK;
}
