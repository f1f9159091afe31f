// cuda_e2e.c — end-to-end distillation's loss and gradient on the GPU (see
// cuda_e2e.h): train/e2e.c's cpu_loss step for step, with both models
// resident on the GPU. The host keeps the parameter vector, Adam, the
// schedule and the checkpoints (train/e2e.c); per call the vector's block
// ranges and the tokens' embedding rows go up, the per-position KL and NLL
// and the gradients come down.
//
// Every block of the student and of the teacher has its own fine-tuning
// workspace (cuda_ft_ws.h: Ŵ and the frozen weights in float32, the saved
// activations of max_seqs sequences), so the backward reuses the forward's
// activations instead of recomputing them as the CPU does. The price is
// memory, about 2·n_layers workspaces (docs/cuda.md, "Distillation"). The
// logits are made and reduced one sequence at a time: two (T, vocab)
// buffers.
#include "cuda/cuda_e2e.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_ft_grad.h"
#include "cuda/cuda_ft_ws.h"
#include "model/linear.h"
#include "util/error.h"
#include "util/free_all.h"

#define K(call, what) crvq_cu_check((call), (what))

typedef struct cu_e2e {
    const crvq_e2e_shape *sh;
    const crvq_config *c, *tc;     // the student's, the teacher's configuration
    int T, B, V, train_emb;
    crvq_cu cu;
    crvq_cu_ft_ws *sws, *tws;      // (c->n_layers), (tc->n_layers) workspaces
    float *s_onorm, *t_onorm;      // (dim) final norms
    float *s_head, *t_head;        // (V, dim); the student's goes up every call when trained
    float *t_bias;                 // (V) the teacher head's bias, or NULL
    float *xs, *xt;                // (B·T, dim) the tokens' embedding rows: student's, teacher's
    float *sxn, *txn, *sinv;       // (B·T, dim) the final norms' outputs; (B·T) the student's 1/rms
    float *slog, *tlog;            // (T, V) one sequence's logits; slog becomes dL/dlogits
    float *dxn, *dx, *dx2;         // (B·T, dim)
    float *g_onorm, *g_head;       // (dim); (V, dim) with trained embeddings
    int *target;                   // (B·T) next token, −1 at a sequence's last position
    double *row_kl, *row_nll;      // (B·T)
    // host
    float *t_emb;                  // (V, dim) the teacher's embedding in float32
    float *h_rows, *h_g;           // (B·T, dim) embedding rows or dx; the largest gradient download
    int *h_target;                 // (B·T)
    double *h_kl, *h_nll;          // (B·T)
} cu_e2e;

static void close_e2e(void *vx) {
    cu_e2e *x = vx;
    if (!x) return;
    for (int l = 0; x->sws && l < x->c->n_layers; l++) crvq_cu_ft_ws_free(&x->sws[l]);
    for (int l = 0; x->tws && l < x->tc->n_layers; l++) crvq_cu_ft_ws_free(&x->tws[l]);
    float *dev[] = {x->s_onorm, x->t_onorm, x->s_head, x->t_head, x->t_bias, x->xs, x->xt, x->sxn, x->txn,
                    x->sinv, x->slog, x->tlog, x->dxn, x->dx, x->dx2, x->g_onorm, x->g_head};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) crvq_cu_free(dev[i]);
    crvq_cu_free(x->target), crvq_cu_free(x->row_kl), crvq_cu_free(x->row_nll);
    crvq_cu_close(&x->cu);
    crvq_free_all(x->sws, x->tws, x->t_emb, x->h_rows, x->h_g, x->h_target, x->h_kl, x->h_nll);
    free(x);
}

// All of Ŵ of a (vocab, dim) matrix of any kind in float32: a new host buffer.
static crvq_status expand_matrix(const crvq_linear *L, float **out) {
    const size_t len = (size_t)L->n_out * L->n_in;
    float *w = malloc(len * sizeof *w), *tmp = malloc(len * sizeof *tmp);
    crvq_status st = CRVQ_OK;
    if (w && tmp) crvq_linear_rows(L, 0, L->n_out, w, tmp);
    else st = crvq_fail(CRVQ_ERR_NOMEM, "GPU distillation: out of memory expanding a %d x %d matrix", L->n_out,
                        L->n_in);
    free(tmp);
    if (st) free(w);
    *out = st ? NULL : w;
    return st;
}

// The teacher's embedding (host), head, bias and final norm (device).
static crvq_status put_teacher(cu_e2e *x, const crvq_model *t) {
    const size_t vd = (size_t)x->V * x->tc->dim;
    const crvq_linear emb = crvq_model_embedding(t);
    float *head = NULL;
    crvq_status st = expand_matrix(&emb, &x->t_emb);
    if (st == CRVQ_OK) st = expand_matrix(&t->output, &head);
    if (st == CRVQ_OK) st = crvq_cu_put(&x->t_head, head, vd * sizeof(float), "the teacher's head");
    if (st == CRVQ_OK && t->output.bias)
        st = crvq_cu_put(&x->t_bias, t->output.bias, x->V * sizeof(float), "the teacher's head");
    if (st == CRVQ_OK) st = crvq_cu_put(&x->t_onorm, t->out_norm, x->tc->dim * sizeof(float), "a norm");
    free(head);
    return st;
}

// One workspace per block of both models (most of the memory).
static crvq_status put_blocks(cu_e2e *x) {
    const crvq_e2e_shape *sh = x->sh;
    x->sws = calloc((size_t)x->c->n_layers, sizeof *x->sws);
    x->tws = calloc((size_t)x->tc->n_layers, sizeof *x->tws);
    if (!x->sws || !x->tws) return crvq_fail(CRVQ_ERR_NOMEM, "GPU distillation: out of memory");
    crvq_status st = CRVQ_OK;
    for (int l = 0; l < x->c->n_layers && st == CRVQ_OK; l++)
        st = crvq_cu_ft_ws_init(x->c, &sh->student->layers[l], x->B, x->T, 1, &x->sws[l]);
    for (int l = 0; l < x->tc->n_layers && st == CRVQ_OK; l++) { // a compressed teacher: its Ŵ once
        st = crvq_cu_ft_ws_init(x->tc, &sh->teacher->layers[l], x->B, x->T, 0, &x->tws[l]);
        if (st == CRVQ_OK) st = crvq_cu_ft_expand(&x->tws[l]);
    }
    return st;
}

static crvq_status alloc_buffers(cu_e2e *x) {
    const size_t N = (size_t)x->B * x->T, dim = x->c->dim, TV = (size_t)x->T * x->V, vd = (size_t)x->V * dim;
    struct { void *p; size_t bytes; } bufs[] = {
        {&x->s_onorm, dim * 4}, {&x->s_head, vd * 4}, {&x->xs, N * dim * 4}, {&x->xt, N * dim * 4},
        {&x->sxn, N * dim * 4}, {&x->txn, N * dim * 4}, {&x->sinv, N * 4}, {&x->slog, TV * 4}, {&x->tlog, TV * 4},
        {&x->dxn, N * dim * 4}, {&x->dx, N * dim * 4}, {&x->dx2, N * dim * 4}, {&x->g_onorm, dim * 4},
        {&x->g_head, x->train_emb ? vd * 4 : 0}, {&x->target, N * sizeof(int)}, {&x->row_kl, N * 8},
        {&x->row_nll, N * 8},
    };
    crvq_status st = CRVQ_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && st == CRVQ_OK; i++)
        st = crvq_cu_alloc(bufs[i].p, bufs[i].bytes, "distillation buffers");
    size_t most = x->train_emb ? vd : dim;
    for (int l = 0; l < x->c->n_layers; l++) most = x->sws[l].n > most ? x->sws[l].n : most;
    x->h_rows = malloc(N * dim * sizeof(float));
    x->h_g = malloc(most * sizeof(float));
    x->h_target = malloc(N * sizeof(int));
    x->h_kl = malloc(N * sizeof(double));
    x->h_nll = malloc(N * sizeof(double));
    if (st == CRVQ_OK && !(x->h_rows && x->h_g && x->h_target && x->h_kl && x->h_nll))
        st = crvq_fail(CRVQ_ERR_NOMEM, "GPU distillation: out of memory");
    // frozen embeddings: the student's head goes up once
    if (st == CRVQ_OK && !x->train_emb) st = crvq_cu_upload(x->s_head, x->sh->head_w, vd * sizeof(float));
    return st;
}

static crvq_status open_e2e(const crvq_e2e_shape *sh, void **out) {
    *out = NULL;
    const crvq_config *c = &sh->student->cfg, *tc = &sh->teacher->cfg;
    if (tc->dim != c->dim || tc->vocab_size != c->vocab_size)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "GPU distillation: the teacher is %d wide with %d tokens, the "
                         "student %d with %d: on the GPU they must match", tc->dim, tc->vocab_size, c->dim,
                         c->vocab_size);
    cu_e2e *x = calloc(1, sizeof *x);
    if (!x) return crvq_fail(CRVQ_ERR_NOMEM, "GPU distillation: out of memory");
    *x = (cu_e2e){.sh = sh, .c = c, .tc = tc, .T = sh->seqlen, .B = sh->max_seqs, .V = c->vocab_size,
                  .train_emb = sh->off_emb != SIZE_MAX};
    crvq_status st = crvq_cu_open(&x->cu);
    if (st == CRVQ_OK) st = put_blocks(x);
    if (st == CRVQ_OK) st = put_teacher(x, sh->teacher);
    if (st == CRVQ_OK) st = alloc_buffers(x);
    if (st) close_e2e(x);
    else *out = x;
    return st;
}

// Both models' inputs: the tokens' embedding rows and the next tokens.
static crvq_status put_inputs(cu_e2e *x, const float *params, const int *tokens, int n_seq) {
    const int T = x->T, dim = x->c->dim, N = n_seq * T;
    const size_t bytes = (size_t)N * dim * sizeof(float);
    const float *emb = x->train_emb ? params + x->sh->off_emb : x->sh->emb_w;
    for (int i = 0; i < N; i++) {
        memcpy(x->h_rows + (size_t)i * dim, emb + (size_t)tokens[i] * dim, dim * sizeof(float));
        x->h_target[i] = i % T + 1 < T ? tokens[i + 1] : -1;
    }
    crvq_status st = crvq_cu_upload(x->xs, x->h_rows, bytes);
    for (int i = 0; i < N && st == CRVQ_OK; i++)
        memcpy(x->h_rows + (size_t)i * dim, x->t_emb + (size_t)tokens[i] * dim, dim * sizeof(float));
    if (st == CRVQ_OK) st = crvq_cu_upload(x->xt, x->h_rows, bytes);
    if (st == CRVQ_OK) st = crvq_cu_upload(x->target, x->h_target, N * sizeof(int));
    return st;
}

// Both models through their blocks and final norms: sxn, txn (N, dim).
static crvq_status forward(cu_e2e *x, const float *params, int n_seq) {
    const crvq_e2e_shape *sh = x->sh;
    const int N = n_seq * x->T, L = x->c->n_layers, Lt = x->tc->n_layers;
    crvq_status st = crvq_cu_upload(x->s_onorm, params + sh->off_out_norm, x->c->dim * sizeof(float));
    if (st == CRVQ_OK && x->train_emb)
        st = crvq_cu_upload(x->s_head, params + sh->off_head, (size_t)x->V * x->c->dim * sizeof(float));
    for (int l = 0; l < L && st == CRVQ_OK; l++) {
        crvq_cu_ft_ws *ws = &x->sws[l];
        st = crvq_cu_upload(ws->params, params + sh->bp[l].begin, ws->n * sizeof(float));
        if (st == CRVQ_OK) st = crvq_cu_ft_expand(ws);
        if (st == CRVQ_OK) st = crvq_cu_ft_forward(ws, l ? x->sws[l - 1].y : x->xs, n_seq);
    }
    for (int l = 0; l < Lt && st == CRVQ_OK; l++)
        st = crvq_cu_ft_forward(&x->tws[l], l ? x->tws[l - 1].y : x->xt, n_seq);
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_rows(x->sws[L - 1].y, x->s_onorm, N, x->c->dim, x->c->norm_eps, x->sxn, x->sinv),
               "final norm");
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_rows(x->tws[Lt - 1].y, x->t_onorm, N, x->tc->dim, x->tc->norm_eps, x->txn, NULL),
               "final norm");
    return st;
}

// Per sequence: both logits, the KL rows, and with want_grad dxn (and the
// head's gradient) from dL/dlogits; then the sums, in the CPU's order.
static crvq_status heads(cu_e2e *x, int n_seq, float coef, int want_grad, double *kl_sum, double *nll_sum) {
    const int T = x->T, V = x->V, dim = x->c->dim, N = n_seq * T;
    crvq_status st = CRVQ_OK;
    for (int s = 0; s < n_seq && st == CRVQ_OK; s++) {
        const size_t r0 = (size_t)s * T;
        const float *sxn = x->sxn + r0 * dim;
        st = crvq_cu_linear(&x->cu, x->s_head, NULL, sxn, T, V, dim, x->slog);
        if (st == CRVQ_OK) st = crvq_cu_linear(&x->cu, x->t_head, x->t_bias, x->txn + r0 * dim, T, V, dim, x->tlog);
        if (st == CRVQ_OK)
            st = K(crvq_cu_kl_rows(x->slog, x->tlog, T, V, x->target + r0, coef, want_grad, x->row_kl + r0,
                                   x->row_nll + r0), "KL rows");
        if (st != CRVQ_OK || !want_grad) continue;
        // dxn (T, dim) = dlogits (T, V) head (V, dim)
        st = crvq_cu_sgemm_strided(&x->cu, 0, 0, T, dim, V, 1.0f, x->slog, V, 0, x->s_head, dim, 0, 0.0f,
                                   x->dxn + r0 * dim, dim, 0, 1);
        // dhead (V, dim) += dlogitsᵀ (V, T) xn (T, dim)
        if (st == CRVQ_OK && x->train_emb)
            st = crvq_cu_sgemm_strided(&x->cu, 1, 0, V, dim, T, 1.0f, x->slog, V, 0, sxn, dim, 0, 1.0f, x->g_head,
                                       dim, 0, 1);
    }
    if (st == CRVQ_OK) st = crvq_cu_download(x->h_kl, x->row_kl, N * sizeof(double));
    if (st == CRVQ_OK) st = crvq_cu_download(x->h_nll, x->row_nll, N * sizeof(double));
    for (int i = 0; i < N && st == CRVQ_OK; i++) *kl_sum += x->h_kl[i], *nll_sum += x->h_nll[i];
    return st;
}

// grad[off + i] += the device array g[i], i < n.
static crvq_status add_grad(cu_e2e *x, const float *g, size_t n, float *grad, size_t off) {
    crvq_status st = crvq_cu_download(x->h_g, g, n * sizeof(float));
    for (size_t i = 0; i < n && st == CRVQ_OK; i++) grad[off + i] += x->h_g[i];
    return st;
}

// From dxn: back through the final norm and the student's blocks (and with
// trained embeddings into the tokens' rows), every gradient added into grad
// (the host vector's layout).
static crvq_status backward(cu_e2e *x, const int *tokens, int n_seq, float *grad) {
    const crvq_e2e_shape *sh = x->sh;
    const int N = n_seq * x->T, dim = x->c->dim, L = x->c->n_layers;
    const float *xL = x->sws[L - 1].y;
    crvq_status st = crvq_cu_zero(x->g_onorm, dim * sizeof(float));
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_back_rows(xL, x->s_onorm, x->sinv, x->dxn, N, dim, 0, x->dx), "final norm backward");
    if (st == CRVQ_OK)
        st = K(crvq_cu_rmsnorm_back_weight(xL, x->sinv, x->dxn, N, dim, x->g_onorm), "final norm backward");
    if (st == CRVQ_OK) st = add_grad(x, x->g_onorm, dim, grad, sh->off_out_norm);
    for (int l = L - 1; l >= 0 && st == CRVQ_OK; l--) {
        crvq_cu_ft_ws *ws = &x->sws[l];
        st = crvq_cu_zero(ws->grad, ws->n * sizeof(float));
        if (st == CRVQ_OK) st = crvq_cu_ft_backward(ws, x->dx, l || x->train_emb ? x->dx2 : NULL);
        if (st == CRVQ_OK) st = add_grad(x, ws->grad, ws->n, grad, sh->bp[l].begin);
        float *t = x->dx;
        x->dx = x->dx2, x->dx2 = t;
    }
    if (st != CRVQ_OK || !x->train_emb) return st;
    st = add_grad(x, x->g_head, (size_t)x->V * dim, grad, sh->off_head);
    if (st == CRVQ_OK) st = crvq_cu_download(x->h_rows, x->dx, (size_t)N * dim * sizeof(float));
    for (int i = 0; i < N && st == CRVQ_OK; i++) { // serial: tokens repeat, rows would collide
        float *row = grad + sh->off_emb + (size_t)tokens[i] * dim;
        const float *d = x->h_rows + (size_t)i * dim;
        for (int j = 0; j < dim; j++) row[j] += d[j];
    }
    return st;
}

static crvq_status loss(void *vx, const float *params, const int *tokens, int n_seq, float *grad, float scale,
                        double *kl_sum, double *nll_sum) {
    cu_e2e *x = vx;
    *kl_sum = *nll_sum = 0;
    if (n_seq < 1 || n_seq > x->B)
        return crvq_fail(CRVQ_ERR_INVALID, "GPU distillation: %d sequences, room for %d", n_seq, x->B);
    crvq_status st = put_inputs(x, params, tokens, n_seq);
    if (st == CRVQ_OK) st = forward(x, params, n_seq);
    if (st == CRVQ_OK && grad && x->train_emb) st = crvq_cu_zero(x->g_head, (size_t)x->V * x->c->dim * sizeof(float));
    if (st == CRVQ_OK) st = heads(x, n_seq, scale / (float)(n_seq * x->T), grad != NULL, kl_sum, nll_sum);
    if (st == CRVQ_OK && grad) st = backward(x, tokens, n_seq, grad);
    return st;
}

const crvq_e2e_device crvq_cuda_e2e = {.open = open_e2e, .loss = loss, .close = close_e2e};
