// block_grad.c — one block's forward pass with saved activations (the one
// block forward, crvq_block_run, on this workspace), and its backward pass
// (see block_grad.h). N = n_seq · seqlen token rows throughout.
#include "train/block_grad.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "model/attention.h"
#include "model/block.h"
#include "model/forward.h"
#include "util/error.h"
#include "util/threads.h"

struct crvq_ft_ws {
    int max_seqs, seqlen;
    int n_seq;           // sequences of the last forward
    const float *x;      // (N, dim) input of the last forward (not owned)
    float *rope_cos;     // (seqlen, head_dim/2)
    float *rope_sin;     // (seqlen, head_dim/2)
    // saved by the forward
    float *inv1, *inv2;  // (N) 1/rms of x and of h
    float *xn1;          // (N, dim) attention norm output
    float *q;            // (N, q_dim) after RoPE
    float *k;            // (N, kv_dim) after RoPE
    float *v;            // (N, kv_dim)
    float *q_raw, *k_raw; // (N, q_dim), (N, kv_dim) q/k projections before the q/k norms (Qwen3)
    float *inv_q, *inv_k; // (N·n_heads), (N·n_kv_heads) 1/rms of each head there
    float *ao;           // (N, q_dim) attention output, heads side by side
    float *h;            // (N, dim) residual stream after attention
    float *xn2;          // (N, dim) feed-forward norm output
    float *g, *u, *a;    // (N, hidden) gate, up, silu(gate)*up
    // backward
    float *dh;           // (N, dim) dL/dh
    float *dxn;          // (N, dim) dL/dxn2, then dL/dxn1
    float *dg, *du;      // (N, hidden) dL/da then dL/dgate (in place), dL/dup
    float *dao, *dq;     // (N, q_dim)
    float *dk, *dv;      // (N, kv_dim)
    float *att;          // attention scratch (crvq_attn_scratch)
    float *lin;          // linear layers' scratch (crvq_linear_train_scratch)
    void *block;         // the one allocation all of the above live in
};

crvq_status crvq_ft_ws_init(const crvq_config *c, const crvq_layer *L, int max_seqs, int seqlen,
                            crvq_ft_ws **out) {
    *out = NULL;
    if (max_seqs < 1 || seqlen < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "block workspace: %d sequences of %d tokens", max_seqs, seqlen);
    crvq_status st = crvq_check_window(c, seqlen);
    if (st) return st;
    if (c->n_heads % c->n_kv_heads || c->head_dim % 2)
        return crvq_fail(CRVQ_ERR_INVALID, "block workspace: %d heads, %d kv heads, head_dim %d",
                         c->n_heads, c->n_kv_heads, c->head_dim);
    const size_t N = (size_t)max_seqs * seqlen;
    const size_t dim = c->dim, hid = c->hidden_dim;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t lin = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        size_t s = crvq_linear_train_scratch(crvq_layer_proj(L, i));
        lin = s > lin ? s : lin;
    }
    crvq_ft_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return crvq_fail(CRVQ_ERR_NOMEM, "block workspace: out of memory");
    ws->max_seqs = max_seqs;
    ws->seqlen = seqlen;
    struct { float **p; size_t n; } parts[] = {
        {&ws->rope_cos, (size_t)seqlen * c->head_dim / 2}, {&ws->rope_sin, (size_t)seqlen * c->head_dim / 2},
        {&ws->inv1, N}, {&ws->inv2, N}, {&ws->xn1, N * dim}, {&ws->q, N * qd}, {&ws->k, N * kvd},
        {&ws->v, N * kvd}, {&ws->ao, N * qd}, {&ws->h, N * dim}, {&ws->xn2, N * dim},
        {&ws->g, N * hid}, {&ws->u, N * hid}, {&ws->a, N * hid}, {&ws->dh, N * dim},
        {&ws->dxn, N * dim}, {&ws->dg, N * hid}, {&ws->du, N * hid}, {&ws->dao, N * qd},
        {&ws->dq, N * qd}, {&ws->dk, N * kvd}, {&ws->dv, N * kvd},
        {&ws->att, crvq_attn_scratch(c, seqlen)}, {&ws->lin, lin},
        // empty (and unused) without q/k norms
        {&ws->q_raw, c->qk_norm ? N * qd : 0}, {&ws->k_raw, c->qk_norm ? N * kvd : 0},
        {&ws->inv_q, c->qk_norm ? N * c->n_heads : 0}, {&ws->inv_k, c->qk_norm ? N * c->n_kv_heads : 0},
    };
    const int n_parts = sizeof parts / sizeof parts[0];
    size_t total = 0; // floats, each part starting on a cache line
    for (int i = 0; i < n_parts; i++) total += (parts[i].n + 15) & ~(size_t)15;
    if (total > SIZE_MAX / sizeof(float) || !(ws->block = aligned_alloc(64, total * sizeof(float)))) {
        free(ws);
        return crvq_fail(CRVQ_ERR_NOMEM, "block workspace: no memory for %zu MiB (%d x %d tokens)",
                         total * sizeof(float) >> 20, max_seqs, seqlen);
    }
    float *p = ws->block;
    for (int i = 0; i < n_parts; i++) {
        *parts[i].p = p;
        p += (parts[i].n + 15) & ~(size_t)15;
    }
    crvq_rope_tables(c, seqlen, ws->rope_cos, ws->rope_sin);
    *out = ws;
    return CRVQ_OK;
}

void crvq_ft_ws_free(crvq_ft_ws *ws) {
    if (!ws) return;
    free(ws->block);
    free(ws);
}

void crvq_ft_forward(const crvq_config *c, const crvq_layer *L, crvq_ft_ws *ws, const float *x,
                     int n_seq, float *y) {
    assert(n_seq >= 1 && n_seq <= ws->max_seqs);
    ws->x = x;
    ws->n_seq = n_seq;
    // every activation the backward reads kept apart; the output projection
    // written into h, the down projection into y, each then added to its
    // residual in place
    const crvq_block_io io = {
        .n = n_seq * ws->seqlen, .seqlen = ws->seqlen, .pos = 0, .rope_cos = ws->rope_cos,
        .rope_sin = ws->rope_sin, .att_scratch = ws->att, .lin_scratch = ws->lin, .inv1 = ws->inv1,
        .inv2 = ws->inv2, .x = x, .xn1 = ws->xn1, .q = ws->q, .k = ws->k, .v = ws->v, .ao = ws->ao, .o = ws->h,
        .q_raw = c->qk_norm ? ws->q_raw : NULL, .k_raw = c->qk_norm ? ws->k_raw : NULL,
        .inv_q = c->qk_norm ? ws->inv_q : NULL, .inv_k = c->qk_norm ? ws->inv_k : NULL,
        .h = ws->h, .xn2 = ws->xn2, .g = ws->g, .u = ws->u, .a = ws->a, .down = y, .y = y,
    };
    crvq_block_run(c, L, &io);
}

// g (rows, hd), the gradient at the outputs of the RMSNorm of x (rows, hd),
// becomes the gradient at x; tmp: rows·hd floats of scratch.
static void rmsnorm_back_heads(const float *x, const float *w, const float *inv, int rows, int hd, float *g,
                                    float *tmp) {
    memset(tmp, 0, (size_t)rows * hd * sizeof *tmp);
    crvq_rmsnorm_backward(x, w, inv, g, rows, hd, tmp, NULL);
    memcpy(g, tmp, (size_t)rows * hd * sizeof *g);
}

// The gradients wanted for projection i, or NULL.
static const crvq_linear_grad *lin_grad(const crvq_ft_grad *g, int i) {
    return g && g->lin[i].scales ? &g->lin[i] : NULL;
}

void crvq_ft_backward(const crvq_config *c, const crvq_layer *L, crvq_ft_ws *ws, const float *dy,
                      const crvq_ft_grad *g, float *dx) {
    const int T = ws->seqlen, N = ws->n_seq * T, dim = c->dim, hd = c->head_dim, half = hd / 2;
    const size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)c->n_kv_heads * hd, hid = c->hidden_dim;
    const int interleaved = c->rope_style == CRVQ_ROPE_INTERLEAVED;

    // y = h + down(a): dh = dy, da = dy Ŵ_down
    memcpy(ws->dh, dy, (size_t)N * dim * sizeof(float));
    crvq_linear_backward(&L->w_down, ws->a, dy, N, ws->dg, 0, lin_grad(g, CRVQ_PROJ_DOWN), ws->lin);
#pragma omp parallel for schedule(static) if ((size_t)N * hid >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < N; t++)
        crvq_swiglu_backward(ws->g + t * hid, ws->u + t * hid, ws->dg + t * hid, ws->dg + t * hid,
                             ws->du + t * hid, (int)hid);
    crvq_linear_backward(&L->w_gate, ws->xn2, ws->dg, N, ws->dxn, 0, lin_grad(g, CRVQ_PROJ_GATE), ws->lin);
    crvq_linear_backward(&L->w_up, ws->xn2, ws->du, N, ws->dxn, 1, lin_grad(g, CRVQ_PROJ_UP), ws->lin);
    crvq_rmsnorm_backward(ws->h, L->ffn_norm, ws->inv2, ws->dxn, N, dim, ws->dh, g ? g->ffn_norm : NULL);

    // h = x + o(ao): dx = dh (+ the norm path below), dao = dh Ŵ_o
    crvq_linear_backward(&L->wo, ws->ao, ws->dh, N, ws->dao, 0, lin_grad(g, CRVQ_PROJ_O), ws->lin);
    for (int s = 0; s < ws->n_seq; s++) {
        const size_t t0 = (size_t)s * T;
        crvq_attn_backward(c, ws->q + t0 * qd, ws->k + t0 * kvd, ws->v + t0 * kvd, ws->dao + t0 * qd, T,
                           ws->dq + t0 * qd, ws->dk + t0 * kvd, ws->dv + t0 * kvd, ws->att);
    }
#pragma omp parallel for schedule(static) if ((size_t)N * (qd + kvd) >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < N; t++) {
        const float *cs = ws->rope_cos + (size_t)(t % T) * half, *sn = ws->rope_sin + (size_t)(t % T) * half;
        crvq_rope_backward(ws->dq + t * qd, c->n_heads, hd, cs, sn, interleaved);
        crvq_rope_backward(ws->dk + t * kvd, c->n_kv_heads, hd, cs, sn, interleaved);
    }
    if (c->qk_norm) { // dq, dk through the per-head norms (frozen: no weight gradient), dao as scratch
        rmsnorm_back_heads(ws->q_raw, L->q_norm, ws->inv_q, N * c->n_heads, hd, ws->dq, ws->dao);
        rmsnorm_back_heads(ws->k_raw, L->k_norm, ws->inv_k, N * c->n_kv_heads, hd, ws->dk, ws->dao);
    }
    crvq_linear_backward(&L->wq, ws->xn1, ws->dq, N, ws->dxn, 0, lin_grad(g, CRVQ_PROJ_Q), ws->lin);
    crvq_linear_backward(&L->wk, ws->xn1, ws->dk, N, ws->dxn, 1, lin_grad(g, CRVQ_PROJ_K), ws->lin);
    crvq_linear_backward(&L->wv, ws->xn1, ws->dv, N, ws->dxn, 1, lin_grad(g, CRVQ_PROJ_V), ws->lin);
    if (dx) memcpy(dx, ws->dh, (size_t)N * dim * sizeof(float));
    crvq_rmsnorm_backward(ws->x, L->attn_norm, ws->inv1, ws->dxn, N, dim, dx, g ? g->attn_norm : NULL);
}
