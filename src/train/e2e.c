// e2e.c — end-to-end distillation (see e2e.h).
#include "train/e2e.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/linear.h"
#include "model/storage.h"
#include "quant/rng.h"
#include "train/adam.h"
#include "train/block_grad.h"
#include "util/error.h"
#include "util/free_all.h"
#include "util/hash.h"
#include "util/threads.h"

// RNG stream of the mini-batch order (seed, stream + epoch)
#define E2E_RNG_STREAM 0x45324500u
#define E2E_CKPT_MAGIC "CRVQE2E1"

struct crvq_e2e {
    const crvq_model *s, *t;      // student, teacher
    const crvq_config *c;
    int T, B, V, train_emb, tied;
    crvq_block_params *bp;        // (n_layers)
    size_t off_onorm, off_emb, off_head, n;
    float *params, *cbt;
    // the student's frozen embedding and head in float32 (emb_w == head_w
    // when tied), and the widened copies of 16-bit ones that they may be
    const float *emb_w, *head_w;
    float *emb_widened, *head_widened;
    // on a device: what it was given, its context (nothing below is allocated)
    const crvq_e2e_device *dev;
    crvq_e2e_shape shape;
    void *dctx;
    // on the CPU
    crvq_ft_ws *ws;               // one block's workspace, shared by all blocks
    crvq_state *tst;              // the teacher's KV cache
    float *xs;                    // (n_layers + 1, B·T, dim): block inputs, then the last block's output
    float *xn, *inv;              // (B·T, dim), (B·T): final norm output and 1/rms
    float *dx, *dx2, *ytmp, *dxn; // (B·T, dim)
    float *slog, *tlog;           // (T, V) student, teacher logits of one sequence
    double *row_kl, *row_nll;     // (T)
};

size_t crvq_e2e_n_params(const crvq_e2e *e) { return e->n; }
float *crvq_e2e_vector(crvq_e2e *e) { return e->params; }
const crvq_block_params *crvq_e2e_block(const crvq_e2e *e, int l) { return &e->bp[l]; }
size_t crvq_e2e_off_out_norm(const crvq_e2e *e) { return e->off_onorm; }
size_t crvq_e2e_off_embed(const crvq_e2e *e) { return e->train_emb ? e->off_emb : SIZE_MAX; }

void crvq_e2e_sync(crvq_e2e *e) {
    for (int l = 0; l < e->c->n_layers; l++) crvq_block_params_sync(&e->bp[l], e->params);
}

void crvq_e2e_round_fp16(crvq_e2e *e) {
    for (int l = 0; l < e->c->n_layers; l++) crvq_block_params_round_fp16(&e->bp[l], e->params);
    if (e->train_emb)
        for (size_t i = e->off_emb; i < e->n; i++) e->params[i] = crvq_f16_to_f32(crvq_f32_to_f16(e->params[i]));
}

// The embedding and head the student computes with now.
static const float *cur_emb(const crvq_e2e *e) { return e->train_emb ? e->params + e->off_emb : e->emb_w; }
static const float *cur_head(const crvq_e2e *e) { return e->train_emb ? e->params + e->off_head : e->head_w; }

void crvq_e2e_free(crvq_e2e *e) {
    if (!e) return;
    if (e->dctx) e->dev->close(e->dctx);
    crvq_ft_ws_free(e->ws);
    crvq_state_free(e->tst);
    crvq_free_all(e->bp, e->params, e->cbt, e->emb_widened, e->head_widened, e->xs, e->xn, e->inv, e->dx, e->dx2,
                  e->ytmp, e->dxn, e->slog, e->tlog, e->row_kl, e->row_nll);
    free(e);
}

// Lays out the parameter vector: each block's parameters, the final norm,
// then (when trained) the embedding and an untied head. Returns the size of
// the blocks' transposed-codebook scratch; *widest is the block whose
// projections need the most training scratch, which sizes the shared
// workspace.
static size_t layout_params(crvq_e2e *e, int *widest) {
    const crvq_config *c = e->c;
    const size_t emb = (size_t)e->V * c->dim;
    size_t n = 0, n_cbt = 0, most = 0;
    *widest = 0;
    for (int l = 0; l < c->n_layers; l++) {
        crvq_block_params_layout(&e->bp[l], c, &e->s->layers[l], n);
        n = e->bp[l].end;
        n_cbt += e->bp[l].n_cbt;
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
            size_t s = crvq_linear_train_scratch(crvq_layer_proj(&e->s->layers[l], i));
            if (s > most) most = s, *widest = l;
        }
    }
    e->off_onorm = n;
    n += c->dim;
    e->off_emb = e->off_head = n;
    if (e->train_emb) {
        n += emb;
        if (!e->tied) e->off_head = n, n += emb;
    }
    e->n = n;
    return n_cbt;
}

// The CPU's activations of e->B sequences of e->T tokens; 0 when out of memory.
static int alloc_activations(crvq_e2e *e) {
    const size_t dim = e->c->dim, N = (size_t)e->B * e->T, L = (size_t)e->c->n_layers;
    e->xs = malloc((L + 1) * N * dim * sizeof(float));
    e->xn = malloc(N * dim * sizeof(float));
    e->inv = malloc(N * sizeof(float));
    e->dx = malloc(N * dim * sizeof(float));
    e->dx2 = malloc(N * dim * sizeof(float));
    e->ytmp = malloc(N * dim * sizeof(float));
    e->dxn = malloc(N * dim * sizeof(float));
    e->slog = malloc((size_t)e->T * e->V * sizeof(float));
    e->tlog = malloc((size_t)e->T * e->V * sizeof(float));
    e->row_kl = malloc((size_t)e->T * sizeof(double));
    e->row_nll = malloc((size_t)e->T * sizeof(double));
    return e->xs && e->xn && e->inv && e->dx && e->dx2 && e->ytmp && e->dxn && e->slog &&
           e->tlog && e->row_kl && e->row_nll;
}

crvq_status crvq_e2e_init(const crvq_model *student, const crvq_model *teacher, int train_embeddings,
                          int max_seqs, int seqlen, const crvq_e2e_device *dev, crvq_e2e **out) {
    *out = NULL;
    const crvq_config *c = &student->cfg;
    if (teacher->cfg.vocab_size != c->vocab_size)
        return crvq_fail(CRVQ_ERR_INVALID, "distillation: the teacher has %d tokens in its vocabulary, the student %d",
                         teacher->cfg.vocab_size, c->vocab_size);
    if (student->output.kind != CRVQ_LINEAR_DENSE || student->output.bias || student->tok_embd_q)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "distillation: the student's output head must be dense without bias, "
                         "and its token embedding dense (quantize them with --head / --embeddings after tuning)");
    if (max_seqs < 1 || seqlen < 2)
        return crvq_fail(CRVQ_ERR_INVALID, "distillation: %d sequences of %d tokens", max_seqs, seqlen);
    crvq_e2e *e = calloc(1, sizeof *e);
    if (!e) return crvq_fail(CRVQ_ERR_NOMEM, "distillation: out of memory");
    e->s = student;
    e->t = teacher;
    e->c = c;
    e->T = seqlen;
    e->B = max_seqs;
    e->V = c->vocab_size;
    e->train_emb = train_embeddings;
    e->tied = student->output.w == student->tok_embd && student->output.w16 == student->tok_embd16;
    const int L = c->n_layers;
    const size_t dim = c->dim, emb = (size_t)e->V * dim;

    const crvq_linear emb_l = crvq_model_embedding(student);
    crvq_status st = crvq_linear_dense_f32(&emb_l, &e->emb_w, &e->emb_widened);
    if (st == CRVQ_OK && !e->tied) st = crvq_linear_dense_f32(&student->output, &e->head_w, &e->head_widened);
    if (st) goto fail;
    if (e->tied) e->head_w = e->emb_w;
    if (!(e->bp = calloc((size_t)L, sizeof *e->bp))) goto nomem;
    int widest;
    const size_t n_cbt = layout_params(e, &widest);
    e->params = malloc(e->n * sizeof(float));
    e->cbt = malloc((n_cbt ? n_cbt : 1) * sizeof(float));
    if (!e->params || !e->cbt || (!dev && !alloc_activations(e))) goto nomem;
    if (!dev && ((st = crvq_ft_ws_init(c, &student->layers[widest], max_seqs, seqlen, &e->ws)) ||
                 (st = crvq_state_init(teacher, seqlen, seqlen, &e->tst))))
        goto fail;
    float *ct = e->cbt;
    for (int l = 0; l < L; l++) {
        crvq_block_params_bind(&e->bp[l], &student->layers[l], e->params, ct);
        ct += e->bp[l].n_cbt;
    }
    memcpy(e->params + e->off_onorm, student->out_norm, dim * sizeof(float));
    if (train_embeddings) {
        memcpy(e->params + e->off_emb, e->emb_w, emb * sizeof(float));
        if (!e->tied) memcpy(e->params + e->off_head, e->head_w, emb * sizeof(float));
    }
    if (dev) {
        e->dev = dev;
        e->shape = (crvq_e2e_shape){.student = student, .teacher = teacher, .bp = e->bp, .off_out_norm = e->off_onorm,
                                    .off_emb = train_embeddings ? e->off_emb : SIZE_MAX, .off_head = e->off_head,
                                    .emb_w = e->emb_w, .head_w = e->head_w, .max_seqs = max_seqs, .seqlen = seqlen};
        if ((st = dev->open(&e->shape, &e->dctx))) goto fail;
    }
    *out = e;
    return CRVQ_OK;
nomem:
    st = crvq_fail(CRVQ_ERR_NOMEM, "distillation: out of memory (%d sequences of %d tokens)", max_seqs, seqlen);
fail:
    crvq_e2e_free(e);
    return st;
}

// KL(p ‖ q) of row t of the teacher's and student's logits, the student's
// NLL of `target` (< 0: none), and dL/dlogits = (q - p)·coef into slog.
static void kl_row(float *slog, const float *tlog, int V, int target, float coef, int want_grad, double *kl,
                   double *nll) {
    float ms = -INFINITY, mt = -INFINITY;
    for (int v = 0; v < V; v++) {
        ms = slog[v] > ms ? slog[v] : ms;
        mt = tlog[v] > mt ? tlog[v] : mt;
    }
    double zs = 0, zt = 0;
    for (int v = 0; v < V; v++) {
        zs += exp((double)slog[v] - ms);
        zt += exp((double)tlog[v] - mt);
    }
    const double lzs = ms + log(zs), lzt = mt + log(zt); // log-normalisers
    double acc = 0;
    for (int v = 0; v < V; v++) {
        const double lp = tlog[v] - lzt, lq = slog[v] - lzs, p = exp(lp);
        acc += p * (lp - lq);
    }
    *kl = acc;
    *nll = target >= 0 ? lzs - slog[target] : 0.0;
    if (want_grad)
        for (int v = 0; v < V; v++) slog[v] = (float)((exp(slog[v] - lzs) - exp(tlog[v] - lzt)) * coef);
}

// crvq_e2e_loss on the CPU: returns the mean KL.
static double cpu_loss(crvq_e2e *e, const int *tokens, int n_seq, float *grad, float scale, double *nll) {
    const crvq_config *c = e->c;
    const int T = e->T, V = e->V, dim = c->dim, L = c->n_layers, N = n_seq * T;
    const size_t plane = (size_t)e->B * T * dim; // stride of the block inputs
    const float *emb = cur_emb(e), *head = cur_head(e);
    for (int i = 0; i < N; i++) memcpy(e->xs + (size_t)i * dim, emb + (size_t)tokens[i] * dim, dim * sizeof(float));
    for (int l = 0; l < L; l++) crvq_ft_forward(c, &e->bp[l].view, e->ws, e->xs + l * plane, n_seq, e->xs + (l + 1) * plane);
    const float *xL = e->xs + L * plane;
    crvq_rmsnorm_rows(xL, e->params + e->off_onorm, N, dim, c->norm_eps, e->xn, e->inv);

    const float coef = scale / (float)N;
    double kl_sum = 0, nll_sum = 0;
    for (int s = 0; s < n_seq; s++) {
        const int *tok = tokens + (size_t)s * T;
        const float *xn = e->xn + (size_t)s * T * dim;
        // the teacher runs on its own cache from position 0 (crvq_forward handles its threads)
        crvq_forward(e->t, e->tst, tok, T, 0, 1, e->tlog);
        // slog (T, V) = xn (T, dim) headᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, V, dim, 1.0f, xn, dim, head, dim, 0.0f, e->slog, V);
#pragma omp parallel for schedule(static) if ((size_t)T * V >= CRVQ_PAR_MIN_WORK)
        for (int t = 0; t < T; t++)
            kl_row(e->slog + (size_t)t * V, e->tlog + (size_t)t * V, V, t + 1 < T ? tok[t + 1] : -1, coef, grad != NULL,
                   &e->row_kl[t], &e->row_nll[t]);
        for (int t = 0; t < T; t++) { // serial sums: the same for any thread count
            kl_sum += e->row_kl[t];
            nll_sum += e->row_nll[t];
        }
        if (!grad) continue;
        // dxn (T, dim) = dlogits (T, V) head (V, dim)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, dim, V, 1.0f, e->slog, V, head, dim, 0.0f,
                    e->dxn + (size_t)s * T * dim, dim);
        // dhead (V, dim) += dlogitsᵀ (V, T) xn (T, dim)
        if (e->train_emb)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, dim, T, 1.0f, e->slog, V, xn, dim, 1.0f,
                        grad + e->off_head, dim);
    }
    if (nll) *nll = nll_sum;
    if (!grad) return kl_sum / N;

    memset(e->dx, 0, (size_t)N * dim * sizeof(float));
    crvq_rmsnorm_backward(xL, e->params + e->off_onorm, e->inv, e->dxn, N, dim, e->dx, grad + e->off_onorm);
    for (int l = L - 1; l >= 0; l--) {
        // recompute the block's saved activations, then go back through it
        crvq_ft_forward(c, &e->bp[l].view, e->ws, e->xs + l * plane, n_seq, e->ytmp);
        crvq_ft_grad g;
        crvq_block_params_grad(&e->bp[l], grad, &g);
        crvq_ft_backward(c, &e->bp[l].view, e->ws, e->dx, &g, e->dx2);
        float *t = e->dx;
        e->dx = e->dx2;
        e->dx2 = t;
    }
    if (e->train_emb) { // serial: tokens repeat, rows would collide
        float *ge = grad + e->off_emb;
        for (int i = 0; i < N; i++) {
            float *row = ge + (size_t)tokens[i] * dim;
            const float *d = e->dx + (size_t)i * dim;
            for (int j = 0; j < dim; j++) row[j] += d[j];
        }
    }
    return kl_sum / N;
}

crvq_status crvq_e2e_loss(crvq_e2e *e, const int *tokens, int n_seq, float *grad, float scale, double *kl,
                          double *nll) {
    const int N = n_seq * e->T;
    if (e->dctx) {
        double kl_sum = 0, nll_sum = 0;
        crvq_status st = e->dev->loss(e->dctx, e->params, tokens, n_seq, grad, scale, &kl_sum, &nll_sum);
        *kl = kl_sum / N;
        if (nll) *nll = nll_sum;
        return st;
    }
    *kl = cpu_loss(e, tokens, n_seq, grad, scale, nll);
    return CRVQ_OK;
}

crvq_status crvq_e2e_write(crvq_e2e *e, crvq_model *m) {
    const size_t dim = m->cfg.dim, emb = (size_t)e->V * dim;
    if (m != e->s || !m->storage)
        return crvq_fail(CRVQ_ERR_INVALID, "distillation: write into another model or one without storage");
    float *buf;
    const size_t nbuf = dim + (e->train_emb ? (e->tied ? 1 : 2) * emb : 0);
    crvq_status st = crvq_storage_alloc(m->storage, nbuf * sizeof(float), (void **)&buf);
    if (st) return st;
    for (int l = 0; l < m->cfg.n_layers; l++)
        if ((st = crvq_block_params_write(&e->bp[l], m, l, e->params))) return st;
    memcpy(buf, e->params + e->off_onorm, dim * sizeof(float));
    m->out_norm = buf;
    if (e->train_emb) {
        memcpy(buf + dim, e->params + e->off_emb, emb * sizeof(float));
        m->tok_embd = buf + dim;
        m->tok_embd16 = NULL;
        m->output.w16 = NULL;
        if (e->tied) {
            m->output.w = m->tok_embd;
        } else {
            memcpy(buf + dim + emb, e->params + e->off_head, emb * sizeof(float));
            m->output.w = buf + dim + emb;
        }
    }
    return CRVQ_OK;
}

// ----------------------------------------------------------- training ---

void crvq_e2e_params_default(crvq_e2e_params *p) {
    *p = (crvq_e2e_params){.lr = 1e-4, .min_lr = 1e-5, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .warmup = 10,
                           .epochs = 1, .batch = 4, .accum = 1, .seed = 0};
}

// Mean KL and perplexity over n windows (tokens (n, T)) in batches.
static crvq_status evaluate(crvq_e2e *e, const int *tokens, int n, double *kl, double *ppl) {
    double kl_sum = 0, nll_sum = 0;
    crvq_status st = CRVQ_OK;
    for (int s0 = 0; s0 < n && st == CRVQ_OK; s0 += e->B) {
        const int nb = n - s0 < e->B ? n - s0 : e->B;
        double kl_b, nll;
        st = crvq_e2e_loss(e, tokens + (size_t)s0 * e->T, nb, NULL, 0, &kl_b, &nll);
        kl_sum += kl_b * nb * e->T;
        nll_sum += nll;
    }
    *kl = kl_sum / ((double)n * e->T);
    *ppl = exp(nll_sum / ((double)n * (e->T - 1)));
    return st;
}

// The training state a checkpoint keeps (plus the vector, the Adam moments
// and the best vector).
typedef struct ckpt_head {
    char magic[8];
    uint64_t hash, n;
    int32_t epochs_done, best_epoch;
    int64_t step, adam_t;
    double best_kl, best_ppl, kl0, ppl0;
} ckpt_head;

// Everything that changes the run: the settings, the windows' tokens, and
// both models as loaded (configuration, and the bytes of every file they were
// read from: the teacher's weights, the student's frozen codes too). A
// checkpoint of another run is refused.
static uint64_t run_hash(const crvq_e2e *e, const int *tokens, int n_tok, const crvq_e2e_params *p) {
    double d[5] = {p->lr, p->min_lr, p->beta1, p->beta2, p->eps};
    int64_t k[9] = {(int64_t)e->n, p->warmup, p->epochs, e->B, p->accum, p->train_embeddings, (int64_t)p->seed,
                    e->T, n_tok};
    uint64_t h = crvq_xxh64(d, sizeof d, 0);
    h = crvq_xxh64(k, sizeof k, h);
    h = crvq_digest(tokens, (size_t)n_tok * sizeof *tokens, h);
    const crvq_model *models[2] = {e->s, e->t};
    for (int i = 0; i < 2; i++) {
        h = crvq_config_digest(&models[i]->cfg, h);
        if (models[i]->storage) h = crvq_storage_digest(models[i]->storage, h);
    }
    return h;
}

static crvq_status ckpt_write(const char *path, const ckpt_head *h, const float *params, const crvq_adam *a,
                              const float *best) {
    crvq_atomic_file af;
    crvq_status st = crvq_atomic_open(path, &af);
    if (st) return st;
    crvq_atomic_write(&af, h, sizeof *h);
    crvq_atomic_write(&af, params, h->n * sizeof(float));
    crvq_atomic_write(&af, a->m, h->n * sizeof(float));
    crvq_atomic_write(&af, a->v, h->n * sizeof(float));
    crvq_atomic_write(&af, best, h->n * sizeof(float));
    return crvq_atomic_commit(&af);
}

int crvq_e2e_checkpoint_probe(const char *path) {
    char magic[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ours = fread(magic, 1, 8, f) == 8 && memcmp(magic, E2E_CKPT_MAGIC, 8) == 0;
    fclose(f);
    return ours;
}

static crvq_status ckpt_read(const char *path, ckpt_head *h, float *params, crvq_adam *a, float *best) {
    FILE *f = fopen(path, "rb");
    if (!f) return crvq_fail(CRVQ_ERR_IO, "%s: cannot open the checkpoint", path);
    const uint64_t want_hash = h->hash, want_n = h->n;
    int ok = fread(h, sizeof *h, 1, f) == 1 && memcmp(h->magic, E2E_CKPT_MAGIC, 8) == 0;
    if (ok && (h->hash != want_hash || h->n != want_n)) {
        fclose(f);
        return crvq_fail(CRVQ_ERR_INVALID, "%s: a checkpoint of another run (other data, model or settings)", path);
    }
    ok = ok && fread(params, sizeof(float), h->n, f) == h->n && fread(a->m, sizeof(float), h->n, f) == h->n &&
         fread(a->v, sizeof(float), h->n, f) == h->n && fread(best, sizeof(float), h->n, f) == h->n;
    fclose(f);
    if (!ok) return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a distillation checkpoint, or truncated", path);
    a->t = h->adam_t;
    return CRVQ_OK;
}

// A loss that is NaN or Inf: the teacher's or the student's activations
// overflowed, or training diverged. Nothing after it can be kept.
static crvq_status not_finite(const char *what, double v, int epoch, int64_t step) {
    char where[64] = "before training";
    if (epoch && step) snprintf(where, sizeof where, "at epoch %d, step %lld", epoch, (long long)step);
    else if (epoch) snprintf(where, sizeof where, "after epoch %d", epoch);
    return crvq_fail(CRVQ_ERR_INVALID,
                     "distillation: the %s %s is %g (not finite): the teacher's or the student's activations "
                     "overflow, or training diverged (a lower --lr may help)", what, where, v);
}

// Warm-up from lr/warmup to lr, then cosine decay to min_lr at the last step.
static double lr_at(const crvq_e2e_params *p, int64_t step, int64_t steps) {
    if (step <= p->warmup) return p->lr * (double)step / p->warmup;
    const double f = steps > p->warmup ? (double)(step - p->warmup) / (double)(steps - p->warmup) : 1.0;
    return p->min_lr + 0.5 * (p->lr - p->min_lr) * (1.0 + cos(M_PI * f));
}

static crvq_status check_args(const crvq_model *student, const int *tokens, int n_train, int n_val, int seqlen,
                              const crvq_e2e_params *p) {
    if (n_train < 1 || n_val < 0 || p->epochs < 0 || p->batch < 1 || p->accum < 1 || p->warmup < 0 ||
        !(p->lr > 0) || !(p->min_lr >= 0 && p->min_lr <= p->lr) || !(p->beta1 >= 0 && p->beta1 < 1) ||
        !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps > 0))
        return crvq_fail(CRVQ_ERR_INVALID,
                         "distillation: need >= 1 training window, epochs >= 0, batch and accum >= 1, warmup >= 0, "
                         "0 <= min_lr <= lr, betas in [0, 1), eps > 0");
    if (!student->storage) return crvq_fail(CRVQ_ERR_INVALID, "distillation: the student has no storage");
    for (size_t i = 0; i < (size_t)(n_train + n_val) * seqlen; i++)
        if (tokens[i] < 0 || tokens[i] >= student->cfg.vocab_size)
            return crvq_fail(CRVQ_ERR_INVALID, "distillation: token id %d out of the vocabulary", tokens[i]);
    return CRVQ_OK;
}

// What the epochs of one run share.
typedef struct e2e_run {
    crvq_e2e *e;
    const crvq_e2e_params *p;
    const int *tokens, *val; // training windows (n_train, T); validation windows (n_eval, T)
    int n_train, n_eval;
    int n_mb;                // mini-batches per epoch
    int64_t steps;           // optimizer steps of the whole run
    float *grad, *saved, *best;
    int *order, *tb;         // the epoch's window order; one mini-batch's tokens
    crvq_adam opt;
    ckpt_head h;
} e2e_run;

// The epoch's window order: a Fisher-Yates shuffle seeded by (seed, epoch),
// so a resumed run draws the same order.
static void shuffle_windows(e2e_run *r, int epoch) {
    crvq_rng rng;
    crvq_rng_init(&rng, r->p->seed, E2E_RNG_STREAM + (uint64_t)epoch);
    for (int i = 0; i < r->n_train; i++) r->order[i] = i;
    for (int i = r->n_train - 1; i > 0; i--) {
        int j = (int)crvq_rng_below(&rng, (uint64_t)i + 1), t = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = t;
    }
}

// One epoch's optimizer steps, each on the gradients summed over `accum`
// mini-batches.
static crvq_status train_epoch(e2e_run *r, int epoch) {
    crvq_e2e *e = r->e;
    const crvq_e2e_params *p = r->p;
    const int B = e->B, seqlen = e->T;
    shuffle_windows(r, epoch);
    for (int mb0 = 0; mb0 < r->n_mb; mb0 += p->accum) {
        const int n_acc = r->n_mb - mb0 < p->accum ? r->n_mb - mb0 : p->accum;
        memset(r->grad, 0, e->n * sizeof(float));
        double kl = 0;
        for (int a = 0; a < n_acc; a++) {
            const int s0 = (mb0 + a) * B, nb = r->n_train - s0 < B ? r->n_train - s0 : B;
            for (int b = 0; b < nb; b++)
                memcpy(r->tb + (size_t)b * seqlen, r->tokens + (size_t)r->order[s0 + b] * seqlen,
                       seqlen * sizeof *r->tb);
            double kl_b;
            crvq_status st = crvq_e2e_loss(e, r->tb, nb, r->grad, 1.0f / n_acc, &kl_b, NULL);
            if (st) return st;
            kl += kl_b / n_acc;
        }
        r->h.step++;
        if (!isfinite(kl)) return not_finite("training KL", kl, epoch, r->h.step);
        r->opt.lr = lr_at(p, r->h.step, r->steps);
        crvq_adam_step(&r->opt, e->params, r->grad);
        crvq_e2e_sync(e);
        if (p->progress) {
            crvq_e2e_progress pr = {.epoch = epoch, .epochs = p->epochs, .step = r->h.step, .steps = r->steps,
                                    .train_kl = kl, .lr = r->opt.lr};
            p->progress(p->progress_user, &pr);
        }
    }
    return CRVQ_OK;
}

// Judges the parameters as they will be stored (rounded to fp16) and keeps
// them when they are the best so far; training goes on from the unrounded
// ones.
static crvq_status validate_epoch(e2e_run *r, int epoch, double *vkl, double *vppl) {
    crvq_e2e *e = r->e;
    memcpy(r->saved, e->params, e->n * sizeof(float));
    crvq_e2e_round_fp16(e);
    crvq_status st = evaluate(e, r->val, r->n_eval, vkl, vppl);
    if (st) return st;
    if (!isfinite(*vkl) || !isfinite(*vppl)) return not_finite("validation KL", *vkl, epoch, 0);
    if (*vkl < r->h.best_kl) {
        r->h.best_kl = *vkl;
        r->h.best_ppl = *vppl;
        r->h.best_epoch = epoch;
        memcpy(r->best, e->params, e->n * sizeof(float));
    }
    memcpy(e->params, r->saved, e->n * sizeof(float));
    crvq_e2e_sync(e);
    return CRVQ_OK;
}

// Resumes from the checkpoint, or judges the student as given (fp16-exact
// already: the epoch-0 candidate).
static crvq_status start_run(e2e_run *r, crvq_e2e_report *rep) {
    crvq_e2e *e = r->e;
    const crvq_e2e_params *p = r->p;
    if (p->checkpoint && p->resume && access(p->checkpoint, F_OK) == 0) {
        crvq_status st = ckpt_read(p->checkpoint, &r->h, e->params, &r->opt, r->best);
        if (st) return st;
        crvq_e2e_sync(e);
        rep->epochs_resumed = r->h.epochs_done;
        return CRVQ_OK;
    }
    crvq_status st = evaluate(e, r->val, r->n_eval, &r->h.kl0, &r->h.ppl0);
    if (st) return st;
    if (!isfinite(r->h.kl0) || !isfinite(r->h.ppl0)) return not_finite("validation KL", r->h.kl0, 0, 0);
    r->h.best_kl = r->h.kl0;
    r->h.best_ppl = r->h.ppl0;
    memcpy(r->best, e->params, e->n * sizeof(float));
    return CRVQ_OK;
}

crvq_status crvq_e2e_train(crvq_model *student, const crvq_model *teacher, const int *tokens, int n_train,
                           int n_val, int seqlen, const crvq_e2e_params *p, const crvq_e2e_device *dev,
                           crvq_e2e_report *rep) {
    const double t0 = omp_get_wtime();
    memset(rep, 0, sizeof *rep);
    crvq_status st = check_args(student, tokens, n_train, n_val, seqlen, p);
    if (st) return st;
    const int most = n_train > n_val ? n_train : n_val, B = p->batch < most ? p->batch : most;
    e2e_run r = {.p = p, .tokens = tokens, .n_train = n_train};
    if ((st = crvq_e2e_init(student, teacher, p->train_embeddings, B, seqlen, dev, &r.e))) return st;
    crvq_e2e *e = r.e;
    const size_t n = e->n;
    r.grad = malloc(n * sizeof(float));
    r.saved = malloc(n * sizeof(float));
    r.best = malloc(n * sizeof(float));
    r.order = malloc((size_t)n_train * sizeof *r.order);
    r.tb = malloc((size_t)B * seqlen * sizeof *r.tb);
    if (!r.grad || !r.saved || !r.best || !r.order || !r.tb) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "distillation: out of memory");
        goto done;
    }
    if ((st = crvq_adam_init(&r.opt, n, p->lr, p->beta1, p->beta2, p->eps))) goto done;
    rep->n_params = n;

    r.val = n_val ? tokens + (size_t)n_train * seqlen : tokens;
    r.n_eval = n_val ? n_val : n_train;
    r.n_mb = (n_train + B - 1) / B;
    r.steps = (int64_t)((r.n_mb + p->accum - 1) / p->accum) * p->epochs;
    r.h = (ckpt_head){.magic = E2E_CKPT_MAGIC, .n = n};
    r.h.hash = run_hash(e, tokens, (n_train + n_val) * seqlen, p);
    if ((st = start_run(&r, rep))) goto done;
    rep->val_kl_before = r.h.kl0;
    rep->val_ppl_before = r.h.ppl0;

    for (int epoch = r.h.epochs_done + 1; epoch <= p->epochs; epoch++) {
        double vkl, vppl;
        if ((st = train_epoch(&r, epoch)) || (st = validate_epoch(&r, epoch, &vkl, &vppl))) goto done;
        r.h.epochs_done = epoch;
        r.h.adam_t = r.opt.t;
        if (p->checkpoint && (st = ckpt_write(p->checkpoint, &r.h, e->params, &r.opt, r.best))) goto done;
        if (p->progress) {
            crvq_e2e_progress pr = {.epoch = epoch, .epochs = p->epochs, .step = r.h.step, .steps = r.steps,
                                    .lr = r.opt.lr, .epoch_done = 1, .val_kl = vkl, .val_ppl = vppl};
            p->progress(p->progress_user, &pr);
        }
    }
    rep->epochs_run = r.h.epochs_done;
    rep->best_epoch = r.h.best_epoch;
    rep->steps = r.h.step;
    rep->val_kl_after = r.h.best_kl;
    rep->val_ppl_after = r.h.best_ppl;
    if (r.h.best_epoch > 0) {
        memcpy(e->params, r.best, n * sizeof(float));
        st = crvq_e2e_write(e, student);
    }
done:
    crvq_adam_free(&r.opt);
    crvq_free_all(r.grad, r.saved, r.best, r.order, r.tb);
    crvq_e2e_free(e);
    rep->seconds = omp_get_wtime() - t0;
    return st;
}
