// cuda_block.c — a transformer block's forward on the GPU (see cuda_block.h).
//
// The block's seven projections are uploaded once per call as float32 Ŵ
// (crvq_linear_rows: dense layers as stored, compressed ones expanded), so
// the projections are plain cuBLAS SGEMMs in FP32 (no TF32); the small ops
// are cu_block.cu's kernels; attention is cuda_attn.c's (model/attention.c's
// crvq_attn_forward: S = scale·Q Kᵀ per head, the causal softmax, O = P V).
// Sequences run in
// batches of about BATCH_ROWS rows: one upload and one download of X per
// batch, and the Hessian taps read the batch's buffers in GPU memory.
#include "cuda/cuda_block.h"

#include <stdlib.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_attn.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_hessian.h"
#include "model/block.h"
#include "model/block_proj.h"
#include "model/forward.h"
#include "model/linear.h"
#include "util/error.h"

// Rows per batch: large enough that the projections fill the GPU (8192 rows
// of a 4096-wide layer is a 275 GFLOP product), small enough that the
// (rows, hidden) buffers stay a few hundred MB for 7B shapes.
#define BATCH_ROWS 8192

typedef struct gpu_block {
    crvq_cu cu;
    const crvq_config *c;
    int T, B;                                          // seqlen; sequences per batch
    float *w[CRVQ_PROJ_COUNT], *bias[CRVQ_PROJ_COUNT]; // (n_out, n_in); (n_out) or NULL
    float *attn_norm, *ffn_norm, *q_norm, *k_norm;     // (dim), (dim), (head_dim) or NULL
    float *cos_t, *sin_t;                              // (T, head_dim/2)
    float *x, *xn;                                     // (B·T, dim): the stream; norms', o's, down's outputs
    float *q, *k, *v, *ao;                             // (B·T, q_dim), (B·T, kv_dim) x2, (B·T, q_dim)
    float *g, *u;                                      // (B·T, hidden)
    float *S;                                          // (n_heads, T, T) one sequence's scores
} gpu_block;

static void gpu_block_free(gpu_block *gb) {
    float **all[] = {&gb->attn_norm, &gb->ffn_norm, &gb->q_norm, &gb->k_norm, &gb->cos_t, &gb->sin_t, &gb->x,
                     &gb->xn, &gb->q, &gb->k, &gb->v, &gb->ao, &gb->g, &gb->u, &gb->S};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) crvq_cu_free(*all[i]);
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) crvq_cu_free(gb->w[j]), crvq_cu_free(gb->bias[j]);
    crvq_cu_close(&gb->cu);
}

// A host vector of n floats into a new device buffer (src NULL: *dst NULL).
static crvq_status put(float **dst, const float *src, size_t n, const char *what) {
    return crvq_cu_put(dst, src, n * sizeof(float), what);
}

// Ŵ of every projection (expanded on the host one layer at a time), the
// biases, the norms and the RoPE tables.
static crvq_status upload_weights(gpu_block *gb, const crvq_layer *L) {
    const crvq_config *c = gb->c;
    size_t most = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        const crvq_linear *lin = crvq_layer_proj(L, j);
        size_t len = (size_t)lin->n_out * lin->n_in;
        if (len > most) most = len;
    }
    float *host = malloc(2 * most * sizeof(float)); // Ŵ, and crvq_linear_rows' scratch
    if (!host) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a layer's weights");
    crvq_status st = CRVQ_OK;
    for (int j = 0; j < CRVQ_PROJ_COUNT && st == CRVQ_OK; j++) {
        const crvq_linear *lin = crvq_layer_proj(L, j);
        crvq_linear_rows(lin, 0, lin->n_out, host, host + most);
        st = put(&gb->w[j], host, (size_t)lin->n_out * lin->n_in, "a block's weights");
        if (st == CRVQ_OK) st = put(&gb->bias[j], lin->bias, lin->n_out, "a block's biases");
    }
    if (st == CRVQ_OK) st = put(&gb->attn_norm, L->attn_norm, c->dim, "a block's norms");
    if (st == CRVQ_OK) st = put(&gb->ffn_norm, L->ffn_norm, c->dim, "a block's norms");
    if (st == CRVQ_OK && c->qk_norm) st = put(&gb->q_norm, L->q_norm, c->head_dim, "a block's q/k norms");
    if (st == CRVQ_OK && c->qk_norm) st = put(&gb->k_norm, L->k_norm, c->head_dim, "a block's q/k norms");
    size_t half = (size_t)gb->T * (c->head_dim / 2);
    if (st == CRVQ_OK && half > most) {
        free(host);
        if (!(host = malloc(2 * half * sizeof(float)))) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    }
    if (st == CRVQ_OK) {
        crvq_rope_tables(c, gb->T, host, host + half);
        st = put(&gb->cos_t, host, half, "RoPE tables");
        if (st == CRVQ_OK) st = put(&gb->sin_t, host + half, half, "RoPE tables");
    }
    free(host);
    return st;
}

static crvq_status alloc_buffers(gpu_block *gb) {
    const crvq_config *c = gb->c;
    const size_t rows = (size_t)gb->B * gb->T, qd = (size_t)c->n_heads * c->head_dim;
    const size_t kvd = (size_t)c->n_kv_heads * c->head_dim;
    struct { float **p; size_t n; } bufs[] = {
        {&gb->x, rows * c->dim}, {&gb->xn, rows * c->dim}, {&gb->q, rows * qd}, {&gb->k, rows * kvd},
        {&gb->v, rows * kvd}, {&gb->ao, rows * qd}, {&gb->g, rows * c->hidden_dim}, {&gb->u, rows * c->hidden_dim},
        {&gb->S, (size_t)c->n_heads * gb->T * gb->T},
    };
    crvq_status st = CRVQ_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && st == CRVQ_OK; i++)
        st = crvq_cu_alloc(bufs[i].p, bufs[i].n * sizeof(float), "a block's activations");
    return st;
}

// y (n, n_out) = x (n, n_in) Ŵᵀ (+ b) for projection j.
static crvq_status linear(gpu_block *gb, int j, const float *x, int n, float *y) {
    int n_out, n_in;
    crvq_proj_shape(gb->c, j, &n_out, &n_in);
    return crvq_cu_linear(&gb->cu, gb->w[j], gb->bias[j], x, n, n_out, n_in, y);
}

static crvq_status tap(void *hctx, int t, const float *dx, int rows) {
    return hctx && rows > 0 ? crvq_cuda_hessian_add_device(hctx, t, dx, rows) : CRVQ_OK;
}

// h = x + o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1))), xn1 = norm(x), in
// place on gb->x (block.c attention_half); the first tap_rows rows tapped.
static crvq_status attention_half(gpu_block *gb, int n_seqs, int tap_rows, void *hctx) {
    const crvq_config *c = gb->c;
    const int n = n_seqs * gb->T, hd = c->head_dim;
    crvq_status st = crvq_cu_check(crvq_cu_rmsnorm_rows(gb->x, gb->attn_norm, n, c->dim, c->norm_eps, gb->xn, NULL),
                                   "attention norm");
    if (st == CRVQ_OK) st = tap(hctx, CRVQ_TAP_ATTN_IN, gb->xn, tap_rows);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_Q, gb->xn, n, gb->q);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_K, gb->xn, n, gb->k);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_V, gb->xn, n, gb->v);
    if (st == CRVQ_OK && c->qk_norm) {
        st = crvq_cu_check(crvq_cu_rmsnorm_rows(gb->q, gb->q_norm, n * c->n_heads, hd, c->norm_eps, gb->q, NULL),
                           "q norm");
        if (st == CRVQ_OK)
            st = crvq_cu_check(
                crvq_cu_rmsnorm_rows(gb->k, gb->k_norm, n * c->n_kv_heads, hd, c->norm_eps, gb->k, NULL), "k norm");
    }
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_rope(gb->q, gb->k, n, gb->T, c->n_heads, c->n_kv_heads, hd, gb->cos_t, gb->sin_t,
                                        c->rope_style == CRVQ_ROPE_INTERLEAVED), "RoPE");
    if (st == CRVQ_OK) st = crvq_cu_attn_forward(&gb->cu, c, gb->T, n_seqs, gb->q, gb->k, gb->v, gb->S, gb->ao);
    if (st == CRVQ_OK) st = tap(hctx, CRVQ_TAP_ATTN_OUT, gb->ao, tap_rows);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_O, gb->ao, n, gb->xn);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_residual(gb->x, gb->x, gb->xn, (size_t)n * c->dim), "residual");
    return st;
}

// y = h + down(silu(gate(xn2)) · up(xn2)), xn2 = norm(h), in place on gb->x
// (block.c ffn_half).
static crvq_status ffn_half(gpu_block *gb, int n_seqs, int tap_rows, void *hctx) {
    const crvq_config *c = gb->c;
    const int n = n_seqs * gb->T;
    crvq_status st = crvq_cu_check(crvq_cu_rmsnorm_rows(gb->x, gb->ffn_norm, n, c->dim, c->norm_eps, gb->xn, NULL),
                                   "feed-forward norm");
    if (st == CRVQ_OK) st = tap(hctx, CRVQ_TAP_FFN_IN, gb->xn, tap_rows);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_GATE, gb->xn, n, gb->g);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_UP, gb->xn, n, gb->u);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_swiglu(gb->g, gb->u, (size_t)n * c->hidden_dim), "SwiGLU");
    if (st == CRVQ_OK) st = tap(hctx, CRVQ_TAP_FFN_ACT, gb->g, tap_rows);
    if (st == CRVQ_OK) st = linear(gb, CRVQ_PROJ_DOWN, gb->g, n, gb->xn);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_residual(gb->x, gb->x, gb->xn, (size_t)n * c->dim), "residual");
    return st;
}

crvq_status crvq_cuda_block_forward(const crvq_config *c, const crvq_layer *L, float *X, int n_seq, int seqlen,
                                    int n_tap_seqs, void *hessian_ctx) {
    if (n_seq < 1 || seqlen < 1) return CRVQ_OK;
    gpu_block gb = {.c = c, .T = seqlen};
    gb.B = BATCH_ROWS / seqlen < 1 ? 1 : BATCH_ROWS / seqlen;
    if (gb.B > n_seq) gb.B = n_seq;
    crvq_status st = crvq_cu_open(&gb.cu);
    if (st != CRVQ_OK) return st;
    st = upload_weights(&gb, L);
    if (st == CRVQ_OK) st = alloc_buffers(&gb);
    const size_t seq_floats = (size_t)seqlen * c->dim;
    for (int s0 = 0; s0 < n_seq && st == CRVQ_OK; s0 += gb.B) {
        const int nb = n_seq - s0 < gb.B ? n_seq - s0 : gb.B;
        int taps = n_tap_seqs - s0;
        taps = taps < 0 ? 0 : taps > nb ? nb : taps;
        float *xs = X + (size_t)s0 * seq_floats;
        st = crvq_cu_upload(gb.x, xs, nb * seq_floats * sizeof(float));
        if (st == CRVQ_OK) st = attention_half(&gb, nb, taps * seqlen, hessian_ctx);
        if (st == CRVQ_OK) st = ffn_half(&gb, nb, taps * seqlen, hessian_ctx);
        if (st == CRVQ_OK) st = crvq_cu_download(xs, gb.x, nb * seq_floats * sizeof(float));
    }
    gpu_block_free(&gb);
    return st;
}
