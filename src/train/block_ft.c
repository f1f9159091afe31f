// block_ft.c — block fine-tuning with Adam, keep-best and early stopping
// (see block_ft.h).
//
// The trainable parameters live in one flat vector run through a view of
// the block (train/block_params.h), so an Adam step changes what the next
// forward computes with no copying. The model itself is only written at the
// end.
#include "train/block_ft.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/rng.h"
#include "train/adam.h"
#include "train/block_grad.h"
#include "train/block_params.h"
#include "util/error.h"
#include "util/free_all.h"

// RNG stream of the mini-batch order (seed, stream + block index)
#define FT_RNG_STREAM 0x46540000u

void crvq_ft_params_default(crvq_ft_params *p) {
    *p = (crvq_ft_params){.lr = 3e-5, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .max_epochs = 10,
                          .patience = 3, .batch_seqs = 4, .seed = 0};
}

typedef struct ft_ctx {
    const crvq_config *c;
    int T, B;                                        // tokens per sequence, sequences per batch
    crvq_block_params bp;                            // layout and view of the block
    size_t n;                                        // length of the flat vector
    float *params, *grad, *saved, *best;             // (n) each
    float *cbt;                                      // transposed codebooks of the view
    float *xb, *yb, *yo;                             // (B, T, dim) batch inputs, targets, outputs
    crvq_ft_ws *ws;
} ft_ctx;

// Σ (y - y_ref)² over n_seq sequences run in batches of B; y_ref (n_seq, T, dim).
static double sum_sq_err(ft_ctx *f, const float *x, const float *y_ref, int n_seq) {
    const size_t per_seq = (size_t)f->T * f->c->dim;
    double sse = 0.0;
    for (int s0 = 0; s0 < n_seq; s0 += f->B) {
        const int nb = n_seq - s0 < f->B ? n_seq - s0 : f->B;
        crvq_ft_forward(f->c, &f->bp.view, f->ws, x + s0 * per_seq, nb, f->yo);
        const float *yr = y_ref + s0 * per_seq;
        const size_t len = nb * per_seq;
#pragma omp parallel for schedule(static) reduction(+ : sse) if (len >= (1 << 18))
        for (size_t i = 0; i < len; i++) {
            double e = (double)f->yo[i] - yr[i];
            sse += e * e;
        }
    }
    return sse;
}

static double mse(ft_ctx *f, const float *x, const float *y_ref, int n_seq) {
    return sum_sq_err(f, x, y_ref, n_seq) / ((double)n_seq * f->T * f->c->dim);
}

// One epoch over the training sequences in a random order; returns the mean
// squared error of its batches (before each step).
static double train_epoch(ft_ctx *f, crvq_adam *opt, crvq_rng *rng, int *order, const float *x_in,
                          const float *y_ref, int n_train) {
    const size_t per_seq = (size_t)f->T * f->c->dim;
    crvq_ft_shuffle(rng, order, n_train);
    crvq_ft_grad g;
    crvq_block_params_grad(&f->bp, f->grad, &g);
    double sse = 0.0;
    for (int s0 = 0; s0 < n_train; s0 += f->B) {
        const int nb = n_train - s0 < f->B ? n_train - s0 : f->B;
        for (int b = 0; b < nb; b++) {
            memcpy(f->xb + b * per_seq, x_in + order[s0 + b] * per_seq, per_seq * sizeof(float));
            memcpy(f->yb + b * per_seq, y_ref + order[s0 + b] * per_seq, per_seq * sizeof(float));
        }
        crvq_ft_forward(f->c, &f->bp.view, f->ws, f->xb, nb, f->yo);
        // loss = mean (y - y_ref)², dL/dy = 2 (y - y_ref) / len, into yo
        const size_t len = nb * per_seq;
        const float two_over = (float)(2.0 / (double)len);
        double batch_sse = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : batch_sse) if (len >= (1 << 18))
        for (size_t i = 0; i < len; i++) {
            float e = f->yo[i] - f->yb[i];
            batch_sse += (double)e * e;
            f->yo[i] = two_over * e;
        }
        sse += batch_sse;
        memset(f->grad, 0, f->n * sizeof *f->grad);
        crvq_ft_backward(f->c, &f->bp.view, f->ws, f->yo, &g, NULL);
        crvq_adam_step(opt, f->params, f->grad);
        crvq_block_params_sync(&f->bp, f->params);
    }
    return sse / ((double)n_train * per_seq);
}

void crvq_ft_rng_init(crvq_rng *rng, const crvq_ft_params *p, int l) {
    crvq_rng_init(rng, p->seed, FT_RNG_STREAM + (uint64_t)l);
}

void crvq_ft_shuffle(crvq_rng *rng, int *order, int n) {
    for (int i = n - 1; i > 0; i--) { // Fisher-Yates
        int j = (int)crvq_rng_below(rng, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

crvq_status crvq_ft_check_args(const crvq_model *m, int l, const float *x_in, const float *y_ref,
                              int n_train, int n_val, int seqlen, const crvq_ft_params *p) {
    if (l < 0 || l >= m->cfg.n_layers)
        return crvq_fail(CRVQ_ERR_INVALID, "fine-tuning: block %d of %d", l, m->cfg.n_layers);
    if (n_train < 1 || n_val < 0 || seqlen < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "block %d fine-tuning: %d training and %d validation sequences of %d tokens",
                         l, n_train, n_val, seqlen);
    if (!(p->lr > 0) || !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps > 0) ||
        p->max_epochs < 0 || p->patience < 1 || p->batch_seqs < 1)
        return crvq_fail(CRVQ_ERR_INVALID,
                         "block %d fine-tuning: need lr > 0, betas in [0, 1), eps > 0, epochs >= 0, patience >= 1, "
                         "batch >= 1 (got lr %g, betas %g %g, eps %g, epochs %d, patience %d, batch %d)",
                         l, p->lr, p->beta1, p->beta2, p->eps, p->max_epochs, p->patience, p->batch_seqs);
    // pipeline models always have storage; a hand-built one without is a programmer error
    if (!m->storage) return crvq_fail(CRVQ_ERR_INVALID, "block %d fine-tuning: the model has no storage", l);
    const size_t len = (size_t)(n_train + n_val) * seqlen * m->cfg.dim;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(x_in[i]) || !isfinite(y_ref[i]))
            return crvq_fail(CRVQ_ERR_INVALID, "block %d fine-tuning: non-finite %s at element %zu", l,
                             isfinite(x_in[i]) ? "target" : "input", i);
    return CRVQ_OK;
}

static void ctx_free(ft_ctx *f) {
    crvq_free_all(f->params, f->grad, f->saved, f->best, f->cbt, f->xb, f->yb, f->yo);
    crvq_ft_ws_free(f->ws);
}

// Lay out the flat vector, copy the block's current parameters into it and
// build the view and shadows.
static crvq_status ctx_init(ft_ctx *f, crvq_model *m, int l, int seqlen, int max_seqs) {
    const crvq_config *c = &m->cfg;
    crvq_layer *L = &m->layers[l];
    memset(f, 0, sizeof *f);
    f->c = c;
    f->T = seqlen;
    f->B = max_seqs;
    crvq_block_params_layout(&f->bp, c, L, 0);
    f->n = f->bp.end;
    const size_t n_cbt = f->bp.n_cbt;

    const size_t batch = (size_t)max_seqs * seqlen * c->dim;
    f->params = malloc(f->n * sizeof(float));
    f->grad = malloc(f->n * sizeof(float));
    f->saved = malloc(f->n * sizeof(float));
    f->best = malloc(f->n * sizeof(float));
    f->cbt = malloc((n_cbt ? n_cbt : 1) * sizeof(float));
    f->xb = malloc(batch * sizeof(float));
    f->yb = malloc(batch * sizeof(float));
    f->yo = malloc(batch * sizeof(float));
    if (!f->params || !f->grad || !f->saved || !f->best || !f->cbt || !f->xb || !f->yb || !f->yo) {
        ctx_free(f);
        return crvq_fail(CRVQ_ERR_NOMEM, "block %d fine-tuning: out of memory", l);
    }
    crvq_status st = crvq_ft_ws_init(c, L, max_seqs, seqlen, &f->ws);
    if (st) {
        ctx_free(f);
        return st;
    }

    crvq_block_params_bind(&f->bp, L, f->params, f->cbt);
    return CRVQ_OK;
}

crvq_status crvq_block_finetune(crvq_model *m, int l, const float *x_in, const float *y_ref,
                                int n_train, int n_val, int seqlen, const crvq_ft_params *p,
                                crvq_ft_report *rep) {
    const double t0 = omp_get_wtime();
    memset(rep, 0, sizeof *rep);
    crvq_status st = crvq_ft_check_args(m, l, x_in, y_ref, n_train, n_val, seqlen, p);
    if (st) return st;

    const int most = n_train > n_val ? n_train : n_val;
    ft_ctx f;
    if ((st = ctx_init(&f, m, l, seqlen, p->batch_seqs < most ? p->batch_seqs : most))) return st;
    crvq_adam opt;
    int *order = malloc((size_t)n_train * sizeof *order);
    if (!order || (st = crvq_adam_init(&opt, f.n, p->lr, p->beta1, p->beta2, p->eps))) {
        free(order);
        ctx_free(&f);
        return order ? st : crvq_fail(CRVQ_ERR_NOMEM, "block %d fine-tuning: out of memory", l);
    }
    for (int i = 0; i < n_train; i++) order[i] = i;

    const size_t per_seq = (size_t)seqlen * m->cfg.dim;
    const float *x_val = n_val ? x_in + n_train * per_seq : x_in;
    const float *y_val = n_val ? y_ref + n_train * per_seq : y_ref;
    const int n_eval = n_val ? n_val : n_train;

    rep->n_params = (int)f.n;
    rep->train_mse0 = mse(&f, x_in, y_ref, n_train);
    rep->val_mse0 = n_val ? mse(&f, x_val, y_val, n_val) : rep->train_mse0;
    rep->val_mse_best = rep->val_mse0;
    memcpy(f.best, f.params, f.n * sizeof(float)); // as quantized: already fp16-exact

    crvq_rng rng;
    crvq_ft_rng_init(&rng, p, l);
    int stale = 0;
    for (int epoch = 1; epoch <= p->max_epochs && stale < p->patience; epoch++) {
        const double train = train_epoch(&f, &opt, &rng, order, x_in, y_ref, n_train);
        rep->epochs_run = epoch;
        // judge the parameters as they will be stored: fp16 codebooks and scales
        memcpy(f.saved, f.params, f.n * sizeof(float));
        crvq_block_params_round_fp16(&f.bp, f.params);
        const double val = mse(&f, x_val, y_val, n_eval);
        if (val < rep->val_mse_best) {
            rep->val_mse_best = val;
            rep->best_epoch = epoch;
            memcpy(f.best, f.params, f.n * sizeof(float));
            stale = 0;
        } else {
            stale++;
        }
        memcpy(f.params, f.saved, f.n * sizeof(float));
        crvq_block_params_sync(&f.bp, f.params);
        if (p->progress) p->progress(p->progress_user, epoch, train, val);
        if (!isfinite(train)) break; // diverged: nothing later can be kept
    }

    if (rep->best_epoch > 0) st = crvq_block_params_write(&f.bp, m, l, f.best);
    crvq_adam_free(&opt);
    free(order);
    ctx_free(&f);
    rep->seconds = omp_get_wtime() - t0;
    return st;
}
