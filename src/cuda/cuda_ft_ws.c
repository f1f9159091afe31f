// cuda_ft_ws.c — block fine-tuning's GPU memory (see cuda_ft_ws.h).
#include "cuda/cuda_ft_ws.h"

#include <stdlib.h>
#include <string.h>

#include "model/forward.h"
#include "model/linear.h"
#include "util/error.h"

void crvq_cu_ft_ws_free(crvq_cu_ft_ws *ws) {
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        crvq_cu_ft_proj *p = &ws->proj[i];
        crvq_cu_free(p->w), crvq_cu_free(p->bias);
        crvq_cu_free((void *)p->L.codes), crvq_cu_free((void *)p->L.codes_ext), crvq_cu_free((void *)p->L.perm);
        for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) crvq_cu_segs_free(&p->seg[k]);
    }
    float *all[] = {ws->params, ws->grad, ws->q_norm, ws->k_norm, ws->cos_t, ws->sin_t, ws->inv1, ws->inv2,
                    ws->xn1, ws->h, ws->xn2, ws->y, ws->q, ws->ao, ws->q_raw, ws->k, ws->v, ws->k_raw, ws->inv_q,
                    ws->inv_k, ws->g, ws->u, ws->a, ws->dy, ws->dh, ws->dxn, ws->dg, ws->du, ws->dao, ws->dq,
                    ws->dk, ws->dv, ws->dW, ws->P, ws->dS};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) crvq_cu_free(all[i]);
    crvq_cu_free(ws->acc);
    free(ws->host);
    free(ws->host_cbt);
    crvq_cu_close(&ws->cu);
    memset(ws, 0, sizeof *ws);
}


// n codes of 8 or 16 bits widened to a new device uint16 array.
static crvq_status put_codes(uint16_t **dst, const uint8_t *c8, const uint16_t *c16, size_t n) {
    *dst = NULL;
    if (!n) return CRVQ_OK;
    uint16_t *w = malloc(n * sizeof *w);
    if (!w) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a layer's codes");
    for (size_t i = 0; i < n; i++) w[i] = c8 ? c8[i] : c16[i];
    crvq_status st = crvq_cu_put(dst, w, n * sizeof *w, "a layer's codes");
    free(w);
    return st;
}

// A VQ projection: codes, permutation, the codes' segments; codebooks and
// scales point into ws->params.
static crvq_status put_vq(crvq_cu_ft_ws *ws, int i, const crvq_vq_weights *W) {
    crvq_cu_ft_proj *p = &ws->proj[i];
    crvq_cu_vq_train *L = &p->L;
    *L = (crvq_cu_vq_train){.m = W->m_out, .n = W->n_in, .d = W->d, .ng = W->n_groups, .nc = W->n_crit, .M = W->M,
                            .scales = ws->params + ws->bp.off_sc[i]};
    for (int k = 0; k < W->M; k++) L->K[k] = 1 << W->e[k], L->cb[k] = ws->params + ws->bp.off_cb[i][k];
    const size_t m = W->m_out;
    crvq_status st = put_codes((uint16_t **)&L->codes, W->codes8, W->codes16, m * W->n_groups);
    if (st == CRVQ_OK) st = put_codes((uint16_t **)&L->codes_ext, W->ext8, W->ext16, m * W->n_ext);
    if (st == CRVQ_OK) st = crvq_cu_put((void *)&L->perm, W->perm, W->perm ? (size_t)W->n_in * sizeof(int32_t) : 0, "a perm");
    for (int k = 0; k < W->M && st == CRVQ_OK; k++) {
        const size_t items = k == 0 ? m * W->n_groups : m * W->n_crit;
        if (!items) continue; // no critical groups: codebook k gets no gradient
        st = crvq_cu_segs_alloc(&p->seg[k], items, L->K[k]);
        if (st == CRVQ_OK)
            st = k == 0 ? crvq_cu_segs_build(&p->seg[k], L->codes, items, 1, 0, W->e[0])
                        : crvq_cu_segs_build(&p->seg[k], L->codes_ext, items, W->M - 1, k - 1, W->e[k]);
    }
    return st;
}

// Every projection: Ŵ's buffer (filled here for frozen ones), bias, VQ state.
static crvq_status put_projections(crvq_cu_ft_ws *ws, const crvq_layer *L, size_t *most_w, size_t *most_cb) {
    size_t most = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        const crvq_linear *lin = crvq_layer_proj(L, i);
        size_t len = (size_t)lin->n_out * lin->n_in;
        most = len > most ? len : most;
    }
    float *host = malloc(2 * most * sizeof(float)); // Ŵ and crvq_linear_rows' scratch
    if (!host) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a layer's weights");
    crvq_status st = CRVQ_OK;
    *most_w = *most_cb = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT && st == CRVQ_OK; i++) {
        const crvq_linear *lin = crvq_layer_proj(L, i);
        crvq_cu_ft_proj *p = &ws->proj[i];
        const size_t len = (size_t)lin->n_out * lin->n_in;
        p->vq = ws->bp.is_vq[i], p->n_out = lin->n_out, p->n_in = lin->n_in;
        st = crvq_cu_put(&p->bias, lin->bias, lin->bias ? lin->n_out * sizeof(float) : 0, "a block's biases");
        if (st == CRVQ_OK && p->vq) {
            st = crvq_cu_alloc(&p->w, len * sizeof(float), "a block's weights");
            if (st == CRVQ_OK) st = put_vq(ws, i, lin->vq);
            *most_w = len > *most_w ? len : *most_w;
            for (int k = 0; k < lin->vq->M; k++) {
                size_t nk = ((size_t)1 << lin->vq->e[k]) * lin->vq->d;
                *most_cb = nk > *most_cb ? nk : *most_cb;
            }
        } else if (st == CRVQ_OK) {
            crvq_linear_rows(lin, 0, lin->n_out, host, host + most);
            st = crvq_cu_put(&p->w, host, len * sizeof(float), "a block's weights");
        }
    }
    free(host);
    return st;
}

// The norms, RoPE tables and the trained vector (as the layer holds it).
static crvq_status put_params(crvq_cu_ft_ws *ws, const crvq_layer *L) {
    const crvq_config *c = ws->c;
    const size_t half = (size_t)ws->T * (c->head_dim / 2);
    ws->host = malloc((ws->n > 2 * half ? ws->n : 2 * half) * sizeof(float));
    ws->host_cbt = malloc((ws->bp.n_cbt ? ws->bp.n_cbt : 1) * sizeof(float));
    if (!ws->host || !ws->host_cbt) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a block's parameters");
    crvq_rope_tables(c, ws->T, ws->host, ws->host + half);
    crvq_status st = crvq_cu_put(&ws->cos_t, ws->host, half * sizeof(float), "RoPE tables");
    if (st == CRVQ_OK) st = crvq_cu_put(&ws->sin_t, ws->host + half, half * sizeof(float), "RoPE tables");
    if (st == CRVQ_OK && c->qk_norm) st = crvq_cu_put(&ws->q_norm, L->q_norm, c->head_dim * sizeof(float), "q/k norms");
    if (st == CRVQ_OK && c->qk_norm) st = crvq_cu_put(&ws->k_norm, L->k_norm, c->head_dim * sizeof(float), "q/k norms");
    crvq_block_params_bind(&ws->bp, L, ws->host, ws->host_cbt);
    if (st == CRVQ_OK) st = crvq_cu_put(&ws->params, ws->host, ws->n * sizeof(float), "the trained parameters");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&ws->grad, ws->n * sizeof(float), "the gradients");
    return st;
}

// The forward's activations; with `backward`, the gradients' buffers too
// (a zero-sized buffer is not allocated: NULL).
static crvq_status alloc_activations(crvq_cu_ft_ws *ws, int backward, size_t most_w, size_t most_cb) {
    const crvq_config *c = ws->c;
    const size_t N = (size_t)ws->B * ws->T, dim = c->dim, hid = c->hidden_dim, bw = backward ? 1 : 0;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    const size_t TT = (size_t)c->n_heads * ws->T * ws->T, qk = c->qk_norm ? 1 : 0;
    struct { float **p; size_t n; } bufs[] = {
        {&ws->inv1, N}, {&ws->inv2, N}, {&ws->xn1, N * dim}, {&ws->h, N * dim}, {&ws->xn2, N * dim},
        {&ws->y, N * dim}, {&ws->q, N * qd}, {&ws->ao, N * qd}, {&ws->q_raw, qk * N * qd}, {&ws->k, N * kvd},
        {&ws->v, N * kvd}, {&ws->k_raw, qk * N * kvd}, {&ws->inv_q, qk * N * c->n_heads},
        {&ws->inv_k, qk * N * c->n_kv_heads}, {&ws->g, N * hid}, {&ws->u, N * hid}, {&ws->a, N * hid},
        {&ws->P, TT}, {&ws->dy, bw * N * dim}, {&ws->dh, bw * N * dim}, {&ws->dxn, bw * N * dim},
        {&ws->dg, bw * N * hid}, {&ws->du, bw * N * hid}, {&ws->dao, bw * N * qd}, {&ws->dq, bw * N * qd},
        {&ws->dk, bw * N * kvd}, {&ws->dv, bw * N * kvd}, {&ws->dW, bw * most_w}, {&ws->dS, bw * TT},
    };
    crvq_status st = CRVQ_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && st == CRVQ_OK; i++)
        st = crvq_cu_alloc(bufs[i].p, bufs[i].n * sizeof(float), "fine-tuning activations");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&ws->acc, bw * most_cb * sizeof(double), "codebook gradients");
    return st;
}

crvq_status crvq_cu_ft_ws_init(const crvq_config *c, const crvq_layer *L, int max_seqs, int seqlen, int backward,
                               crvq_cu_ft_ws *ws) {
    memset(ws, 0, sizeof *ws);
    if (max_seqs < 1 || seqlen < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "GPU block workspace: %d sequences of %d tokens", max_seqs, seqlen);
    crvq_status st = crvq_check_window(c, seqlen);
    if (st) return st;
    if (c->n_heads % c->n_kv_heads || c->head_dim % 2)
        return crvq_fail(CRVQ_ERR_INVALID, "GPU block workspace: %d heads, %d kv heads, head_dim %d", c->n_heads,
                         c->n_kv_heads, c->head_dim);
    ws->c = c, ws->T = seqlen, ws->B = max_seqs;
    crvq_block_params_layout(&ws->bp, c, L, 0);
    ws->n = ws->bp.end;
    size_t most_w = 0, most_cb = 0;
    if ((st = crvq_cu_open(&ws->cu)) == CRVQ_OK && (st = put_params(ws, L)) == CRVQ_OK &&
        (st = put_projections(ws, L, &most_w, &most_cb)) == CRVQ_OK)
        st = alloc_activations(ws, backward, most_w, most_cb);
    if (st) crvq_cu_ft_ws_free(ws);
    return st;
}
