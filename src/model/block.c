// block.c — the one forward pass of a transformer block (see block.h).
//
// Matrix products are BLAS calls made from serial code; OpenMP runs the
// per-row and per-head loops in between (BLAS runs its own threads, and is
// never called inside an OpenMP region).
#include "model/block.h"

#include <string.h>

#include "kernels/ops.h"
#include "model/attention.h"
#include "model/attention_kvq.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "util/threads.h"

static void linear(const crvq_block_io *io, const crvq_linear *L, const float *x, float *y) {
    if (io->lin_scratch)
        crvq_linear_forward_train(L, x, io->n, y, io->lin_scratch);
    else
        crvq_linear_forward(L, x, io->n, y);
}

// h = x + o, all (len); h may alias x or o.
static void residual(float *h, const float *x, const float *o, size_t len) {
#pragma omp parallel for schedule(static) if (len >= CRVQ_PAR_MIN_WORK)
    for (size_t i = 0; i < len; i++) h[i] = x[i] + o[i];
}

// q and k of every row rotated to its position (pos + the row's place in
// its sequence).
static void rope_rows(const crvq_config *c, const crvq_block_io *io) {
    const int hd = c->head_dim, half = hd / 2, T = io->seqlen;
    const size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)c->n_kv_heads * hd;
    const int interleaved = c->rope_style == CRVQ_ROPE_INTERLEAVED;
#pragma omp parallel for schedule(static) if ((size_t)io->n * (qd + kvd) >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < io->n; t++) {
        const size_t p = (size_t)io->pos + t % T;
        const float *cs = io->rope_cos + p * half, *sn = io->rope_sin + p * half;
        crvq_rope(io->q + t * qd, c->n_heads, hd, cs, sn, interleaved);
        crvq_rope(io->k + t * kvd, c->n_kv_heads, hd, cs, sn, interleaved);
    }
}

// Qwen3's RMSNorm of every head of q (n, n_heads·hd) and k (n, n_kv_heads·hd),
// in place (serving), or from the projections' outputs kept in q_raw/k_raw
// with each head's 1/rms (training: the backward reads them).
static void qk_norm_rows(const crvq_config *c, const crvq_layer *L, const crvq_block_io *io) {
    const int n = io->n, hd = c->head_dim;
    const float *q = io->q_raw ? io->q_raw : io->q, *k = io->k_raw ? io->k_raw : io->k;
    crvq_rmsnorm_rows(q, L->q_norm, n * c->n_heads, hd, c->norm_eps, io->q, io->inv_q);
    crvq_rmsnorm_rows(k, L->k_norm, n * c->n_kv_heads, hd, c->norm_eps, io->k, io->inv_k);
}

// h = x + o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1))), xn1 = norm(x); q and
// k of each head RMS-normed before RoPE when the model has q/k norms
static void attention_half(const crvq_config *c, const crvq_layer *L, const crvq_block_io *io) {
    const int n = io->n, dim = c->dim, T = io->seqlen;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    crvq_rmsnorm_rows(io->x, L->attn_norm, n, dim, c->norm_eps, io->xn1, io->inv1);
    if (io->tap) io->tap(io->tap_ctx, CRVQ_TAP_ATTN_IN, io->xn1, n, dim);
    linear(io, &L->wq, io->xn1, io->q_raw ? io->q_raw : io->q);
    linear(io, &L->wk, io->xn1, io->k_raw ? io->k_raw : io->k);
    linear(io, &L->wv, io->xn1, io->v);
    if (c->qk_norm) qk_norm_rows(c, L, io);
    rope_rows(c, io);
    if (io->kvq) {
        crvq_kv_cache_store(io->kvq, io->layer, io->k, io->v, n, io->pos);
        crvq_attn_cached_kvq(c, io->q, io->kvq, io->layer, n, io->pos, io->q_tile, io->scores, io->deq, io->ao);
    } else if (io->kc)
        crvq_attn_cached(c, io->q, io->kc, io->vc, n, io->pos, io->q_tile, io->max_seq, io->scores, io->ao);
    else
        for (int s = 0; s < n / T; s++) {
            const size_t t0 = (size_t)s * T;
            crvq_attn_forward(c, io->q + t0 * qd, io->k + t0 * kvd, io->v + t0 * kvd, T, io->ao + t0 * qd,
                              io->att_scratch);
        }
    if (io->tap) io->tap(io->tap_ctx, CRVQ_TAP_ATTN_OUT, io->ao, n, (int)qd);
    linear(io, &L->wo, io->ao, io->o);
    residual(io->h, io->x, io->o, (size_t)n * dim);
}

// y = h + down(silu(gate(xn2)) * up(xn2)), xn2 = norm(h)
static void ffn_half(const crvq_config *c, const crvq_layer *L, const crvq_block_io *io) {
    const int n = io->n, dim = c->dim;
    const size_t hid = c->hidden_dim;
    crvq_rmsnorm_rows(io->h, L->ffn_norm, n, dim, c->norm_eps, io->xn2, io->inv2);
    if (io->tap) io->tap(io->tap_ctx, CRVQ_TAP_FFN_IN, io->xn2, n, dim);
    linear(io, &L->w_gate, io->xn2, io->g);
    linear(io, &L->w_up, io->xn2, io->u);
    if (io->a != io->g) memcpy(io->a, io->g, (size_t)n * hid * sizeof(float));
#pragma omp parallel for schedule(static) if ((size_t)n * hid >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < n; t++) crvq_swiglu(io->a + t * hid, io->u + t * hid, (int)hid);
    if (io->tap) io->tap(io->tap_ctx, CRVQ_TAP_FFN_ACT, io->a, n, (int)hid);
    linear(io, &L->w_down, io->a, io->down);
    residual(io->y, io->h, io->down, (size_t)n * dim);
}

void crvq_block_run(const crvq_config *c, const crvq_layer *L, const crvq_block_io *io) {
    attention_half(c, L, io);
    ffn_half(c, L, io);
}
