// block_params.c — a block's trainable parameters in a flat vector (see
// block_params.h).
#include "train/block_params.h"

#include <string.h>

#include "model/storage.h"

void crvq_block_params_layout(crvq_block_params *bp, const crvq_config *c, const crvq_layer *L,
                              size_t begin) {
    memset(bp, 0, sizeof *bp);
    size_t n = begin;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        const crvq_linear *lin = crvq_layer_proj(L, i);
        if (lin->kind != CRVQ_LINEAR_VQ) continue;
        const crvq_vq_weights *W = lin->vq;
        bp->is_vq[i] = 1;
        for (int k = 0; k < W->M; k++) {
            bp->off_cb[i][k] = n;
            n += ((size_t)1 << W->e[k]) * W->d;
        }
        bp->n_cbt += n - bp->off_cb[i][0];
        bp->off_sc[i] = n;
        n += W->m_out;
    }
    bp->off_attn = n;
    bp->off_ffn = n + c->dim;
    bp->begin = begin;
    bp->end = n + 2 * (size_t)c->dim;
}

void crvq_block_params_bind(crvq_block_params *bp, const crvq_layer *L, float *params, float *cbt) {
    const int dim = (int)(bp->off_ffn - bp->off_attn);
    bp->view = *L;
    float *ct = cbt;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp->is_vq[i]) continue;
        const crvq_vq_weights *W = crvq_layer_proj(L, i)->vq;
        // a shallow copy sharing the codes and permutation (and W's stored
        // form, which only W's own set() changes); never freed
        crvq_vq_weights *S = &bp->shadow[i];
        *S = *W;
        S->own_codes = NULL;
        for (int k = 0; k < W->M; k++) {
            const size_t nk = ((size_t)1 << W->e[k]) * W->d;
            memcpy(params + bp->off_cb[i][k], W->cb[k], nk * sizeof(float));
            S->cb[k] = params + bp->off_cb[i][k];
            S->cb_t[k] = ct;
            ct += nk;
        }
        memcpy(params + bp->off_sc[i], W->scales, (size_t)W->m_out * sizeof(float));
        S->scales = params + bp->off_sc[i];
        crvq_block_proj(&bp->view, i)->vq = S;
    }
    memcpy(params + bp->off_attn, L->attn_norm, (size_t)dim * sizeof(float));
    memcpy(params + bp->off_ffn, L->ffn_norm, (size_t)dim * sizeof(float));
    bp->view.attn_norm = params + bp->off_attn;
    bp->view.ffn_norm = params + bp->off_ffn;
    crvq_block_params_sync(bp, params);
}

void crvq_block_params_sync(crvq_block_params *bp, const float *params) {
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp->is_vq[i]) continue;
        const crvq_vq_weights *W = &bp->shadow[i];
        for (int k = 0; k < W->M; k++) {
            const int K = 1 << W->e[k], d = W->d;
            const float *cb = params + bp->off_cb[i][k];
            float *ct = (float *)W->cb_t[k]; // points into the caller's cbt buffer
            for (int c = 0; c < K; c++)
                for (int j = 0; j < d; j++) ct[(size_t)j * K + c] = cb[(size_t)c * d + j];
        }
    }
}

void crvq_block_params_round_fp16(crvq_block_params *bp, float *params) {
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp->is_vq[i]) continue;
        // codebooks and scales of projection i are contiguous
        size_t a = bp->off_cb[i][0], b = bp->off_sc[i] + (size_t)bp->shadow[i].m_out;
        for (size_t j = a; j < b; j++) params[j] = crvq_f16_to_f32(crvq_f32_to_f16(params[j]));
    }
    crvq_block_params_sync(bp, params);
}

void crvq_block_params_grad(const crvq_block_params *bp, float *grad, crvq_ft_grad *g) {
    memset(g, 0, sizeof *g);
    g->attn_norm = grad + bp->off_attn;
    g->ffn_norm = grad + bp->off_ffn;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp->is_vq[i]) continue;
        for (int k = 0; k < bp->shadow[i].M; k++) g->lin[i].cb[k] = grad + bp->off_cb[i][k];
        g->lin[i].scales = grad + bp->off_sc[i];
    }
}

crvq_status crvq_block_params_write(const crvq_block_params *bp, crvq_model *m, int l, const float *params) {
    const int dim = m->cfg.dim;
    crvq_layer *L = &m->layers[l];
    float *norms;
    crvq_status st = crvq_storage_alloc(m->storage, 2 * (size_t)dim * sizeof(float), (void **)&norms);
    if (st) return st;
    memcpy(norms, params + bp->off_attn, (size_t)dim * sizeof(float));
    memcpy(norms + dim, params + bp->off_ffn, (size_t)dim * sizeof(float));
    L->attn_norm = norms;
    L->ffn_norm = norms + dim;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp->is_vq[i]) continue;
        // the model holds its runtime weights through const pointers, but owns
        // them (heap blocks, never mapped memory): writing is safe
        crvq_vq_weights *W = (crvq_vq_weights *)crvq_block_proj(L, i)->vq;
        for (int k = 0; k < W->M; k++) crvq_vq_weights_set(W, k, params + bp->off_cb[i][k], NULL);
        crvq_vq_weights_set(W, 0, NULL, params + bp->off_sc[i]);
    }
    return CRVQ_OK;
}
