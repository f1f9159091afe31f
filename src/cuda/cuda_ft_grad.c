// cuda_ft_grad.c — a block's training forward and backward on the GPU (see
// cuda_ft_grad.h), step for step as train/block_grad.c; N = n_seq·T rows.
#include "cuda/cuda_ft_grad.h"

#include <stdlib.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_attn.h"
#include "util/error.h"

#define K(call, what) crvq_cu_check((call), (what))

crvq_status crvq_cu_ft_expand(crvq_cu_ft_ws *ws) {
    crvq_status st = CRVQ_OK;
    for (int i = 0; i < CRVQ_PROJ_COUNT && st == CRVQ_OK; i++)
        if (ws->proj[i].vq) st = K(crvq_cu_vq_expand(&ws->proj[i].L, ws->proj[i].w), "VQ expansion");
    return st;
}

static crvq_status linear(crvq_cu_ft_ws *ws, int i, const float *x, int n, float *y) {
    const crvq_cu_ft_proj *p = &ws->proj[i];
    return crvq_cu_linear(&ws->cu, p->w, p->bias, x, n, p->n_out, p->n_in, y);
}

// h = x + o(attention(...)) with every activation saved (block.c attention_half).
static crvq_status attention_half(crvq_cu_ft_ws *ws, const float *x, int n_seq) {
    const crvq_config *c = ws->c;
    const int n = n_seq * ws->T, hd = c->head_dim, qk = c->qk_norm;
    float *q = qk ? ws->q_raw : ws->q, *k = qk ? ws->k_raw : ws->k;
    crvq_status st = K(crvq_cu_rmsnorm_rows(x, ws->params + ws->bp.off_attn, n, c->dim, c->norm_eps, ws->xn1,
                                            ws->inv1), "attention norm");
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_Q, ws->xn1, n, q);
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_K, ws->xn1, n, k);
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_V, ws->xn1, n, ws->v);
    if (st == CRVQ_OK && qk)
        st = K(crvq_cu_rmsnorm_rows(q, ws->q_norm, n * c->n_heads, hd, c->norm_eps, ws->q, ws->inv_q), "q norm");
    if (st == CRVQ_OK && qk)
        st = K(crvq_cu_rmsnorm_rows(k, ws->k_norm, n * c->n_kv_heads, hd, c->norm_eps, ws->k, ws->inv_k), "k norm");
    if (st == CRVQ_OK)
        st = K(crvq_cu_rope(ws->q, ws->k, n, ws->T, c->n_heads, c->n_kv_heads, hd, ws->cos_t, ws->sin_t,
                            c->rope_style == CRVQ_ROPE_INTERLEAVED), "RoPE");
    if (st == CRVQ_OK) st = crvq_cu_attn_forward(&ws->cu, c, ws->T, n_seq, ws->q, ws->k, ws->v, ws->P, ws->ao);
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_O, ws->ao, n, ws->h);
    if (st == CRVQ_OK) st = K(crvq_cu_residual(ws->h, x, ws->h, (size_t)n * c->dim), "residual");
    return st;
}

crvq_status crvq_cu_ft_forward(crvq_cu_ft_ws *ws, const float *x, int n_seq) {
    const crvq_config *c = ws->c;
    const int n = n_seq * ws->T;
    const size_t nh = (size_t)n * c->hidden_dim;
    if (n_seq < 1 || n_seq > ws->B)
        return crvq_fail(CRVQ_ERR_INVALID, "GPU block forward: %d sequences, room for %d", n_seq, ws->B);
    ws->x = x, ws->n_seq = n_seq;
    crvq_status st = attention_half(ws, x, n_seq);
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_rows(ws->h, ws->params + ws->bp.off_ffn, n, c->dim, c->norm_eps, ws->xn2, ws->inv2),
               "feed-forward norm");
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_GATE, ws->xn2, n, ws->g);
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_UP, ws->xn2, n, ws->u);
    if (st == CRVQ_OK) st = crvq_cu_copy(ws->a, ws->g, nh * sizeof(float));
    if (st == CRVQ_OK) st = K(crvq_cu_swiglu(ws->a, ws->u, nh), "SwiGLU");
    if (st == CRVQ_OK) st = linear(ws, CRVQ_PROJ_DOWN, ws->a, n, ws->y);
    if (st == CRVQ_OK) st = K(crvq_cu_residual(ws->y, ws->h, ws->y, (size_t)n * c->dim), "residual");
    return st;
}

// Backward of projection i over n rows (linear.c crvq_linear_backward):
// dx (+)= dy Ŵ; for a VQ projection dW = dyᵀ x, then the scale and
// codebook gradients reduced from it by the frozen codes.
static crvq_status linear_back(crvq_cu_ft_ws *ws, int i, const float *x, const float *dy, int n, float *dx,
                               int accumulate) {
    crvq_cu_ft_proj *p = &ws->proj[i];
    const int m = p->n_out, k_in = p->n_in;
    crvq_status st = crvq_cu_sgemm_strided(&ws->cu, 0, 0, n, k_in, m, 1.0f, dy, m, 0, p->w, k_in, 0,
                                           accumulate ? 1.0f : 0.0f, dx, k_in, 0, 1);
    if (st != CRVQ_OK || !p->vq) return st;
    st = crvq_cu_sgemm_strided(&ws->cu, 1, 0, m, k_in, n, 1.0f, dy, m, 0, x, k_in, 0, 0.0f, ws->dW, k_in, 0, 1);
    if (st == CRVQ_OK)
        st = K(crvq_cu_vq_grad_scales(&p->L, ws->dW, ws->grad + ws->bp.off_sc[i]), "scale gradients");
    for (int k = 0; k < p->L.M && st == CRVQ_OK; k++) {
        const crvq_cu_segs *s = &p->seg[k];
        if (!s->cap) continue; // no items: no gradient
        st = K(crvq_cu_vq_grad_codebook(&p->L, k, s->start, s->end, s->items, ws->dW, ws->acc), "codebook gradients");
        if (st == CRVQ_OK)
            st = K(crvq_cu_add_f64(ws->grad + ws->bp.off_cb[i][k], ws->acc, (size_t)p->L.K[k] * p->L.d),
                   "codebook gradients");
    }
    return st;
}

// From dh: dxn = dL/dxn1, and dq, dk, dv on the way (block_grad.c's attention part).
static crvq_status attention_back(crvq_cu_ft_ws *ws) {
    const crvq_config *c = ws->c;
    const int n = ws->n_seq * ws->T, hd = c->head_dim;
    crvq_status st = linear_back(ws, CRVQ_PROJ_O, ws->ao, ws->dh, n, ws->dao, 0);
    if (st == CRVQ_OK)
        st = crvq_cu_attn_backward(&ws->cu, c, ws->T, ws->n_seq, ws->q, ws->k, ws->v, ws->dao, ws->P, ws->dS, ws->dq,
                                   ws->dk, ws->dv);
    if (st == CRVQ_OK)
        st = K(crvq_cu_rope_back(ws->dq, ws->dk, n, ws->T, c->n_heads, c->n_kv_heads, hd, ws->cos_t, ws->sin_t,
                                 c->rope_style == CRVQ_ROPE_INTERLEAVED), "RoPE backward");
    if (st == CRVQ_OK && c->qk_norm) // through the frozen per-head norms, in place
        st = K(crvq_cu_rmsnorm_back_rows(ws->q_raw, ws->q_norm, ws->inv_q, ws->dq, n * c->n_heads, hd, 0, ws->dq),
               "q norm backward");
    if (st == CRVQ_OK && c->qk_norm)
        st = K(crvq_cu_rmsnorm_back_rows(ws->k_raw, ws->k_norm, ws->inv_k, ws->dk, n * c->n_kv_heads, hd, 0,
                                         ws->dk), "k norm backward");
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_Q, ws->xn1, ws->dq, n, ws->dxn, 0);
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_K, ws->xn1, ws->dk, n, ws->dxn, 1);
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_V, ws->xn1, ws->dv, n, ws->dxn, 1);
    return st;
}

crvq_status crvq_cu_ft_backward(crvq_cu_ft_ws *ws, const float *dy, float *dx) {
    const crvq_config *c = ws->c;
    const int n = ws->n_seq * ws->T, dim = c->dim;
    const size_t nd = (size_t)n * dim;
    // y = h + down(a): dh = dy, da = dy Ŵ_down
    crvq_status st = crvq_cu_copy(ws->dh, dy, nd * sizeof(float));
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_DOWN, ws->a, dy, n, ws->dg, 0);
    if (st == CRVQ_OK)
        st = K(crvq_cu_swiglu_back(ws->g, ws->u, ws->dg, ws->dg, ws->du, (size_t)n * c->hidden_dim),
               "SwiGLU backward");
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_GATE, ws->xn2, ws->dg, n, ws->dxn, 0);
    if (st == CRVQ_OK) st = linear_back(ws, CRVQ_PROJ_UP, ws->xn2, ws->du, n, ws->dxn, 1);
    const float *wf = ws->params + ws->bp.off_ffn, *wa = ws->params + ws->bp.off_attn;
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_back_rows(ws->h, wf, ws->inv2, ws->dxn, n, dim, 1, ws->dh), "norm backward");
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_back_weight(ws->h, ws->inv2, ws->dxn, n, dim, ws->grad + ws->bp.off_ffn),
               "norm backward");
    if (st == CRVQ_OK) st = attention_back(ws);
    if (st == CRVQ_OK && dx) st = crvq_cu_copy(dx, ws->dh, nd * sizeof(float));
    if (st == CRVQ_OK && dx)
        st = K(crvq_cu_rmsnorm_back_rows(ws->x, wa, ws->inv1, ws->dxn, n, dim, 1, dx), "norm backward");
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_back_weight(ws->x, ws->inv1, ws->dxn, n, dim, ws->grad + ws->bp.off_attn),
               "norm backward");
    return st;
}

crvq_status crvq_cuda_block_ft_grad(const crvq_config *c, const crvq_layer *L, const float *x, const float *dy,
                                    int n_seq, int seqlen, float *y, float *grad, float *dx) {
    crvq_cu_ft_ws ws;
    crvq_status st = crvq_cu_ft_ws_init(c, L, n_seq, seqlen, 1, &ws);
    if (st) return st;
    const size_t bytes = (size_t)n_seq * seqlen * c->dim * sizeof(float);
    float *xd = NULL, *dyd = NULL, *dxd = NULL;
    st = crvq_cu_alloc(&xd, bytes, "fine-tuning inputs");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&dyd, bytes, "fine-tuning gradients");
    if (st == CRVQ_OK && dx) st = crvq_cu_alloc(&dxd, bytes, "fine-tuning gradients");
    if (st == CRVQ_OK) st = crvq_cu_upload(xd, x, bytes);
    if (st == CRVQ_OK) st = crvq_cu_upload(dyd, dy, bytes);
    if (st == CRVQ_OK) st = crvq_cu_ft_expand(&ws);
    if (st == CRVQ_OK) st = crvq_cu_zero(ws.grad, ws.n * sizeof(float));
    if (st == CRVQ_OK) st = crvq_cu_ft_forward(&ws, xd, n_seq);
    if (st == CRVQ_OK) st = crvq_cu_ft_backward(&ws, dyd, dxd);
    if (st == CRVQ_OK) st = crvq_cu_download(y, ws.y, bytes);
    if (st == CRVQ_OK) st = crvq_cu_download(grad, ws.grad, ws.n * sizeof(float));
    if (st == CRVQ_OK && dx) st = crvq_cu_download(dx, dxd, bytes);
    crvq_cu_free(xd), crvq_cu_free(dyd), crvq_cu_free(dxd);
    crvq_cu_ft_ws_free(&ws);
    return st;
}
