// vq_layer.c — allocation and release of a crvq_vq_layer.
#include "quant/vq_layer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

crvq_status crvq_vq_layer_alloc(crvq_vq_layer *L, int m_out, int n_in, int d, int M, const int *e,
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
        crvq_vq_layer_free(L);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for a %d x %d layer", m_out, n_in);
    }
    return CRVQ_OK;
}

void crvq_vq_layer_free(crvq_vq_layer *L) {
    if (!L) return;
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) free(L->codebooks[k]);
    free(L->codes);
    free(L->codes_ext);
    free(L->scales);
    free(L->perm);
    memset(L, 0, sizeof *L);
}
