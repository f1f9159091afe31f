// cuda_ft.c — block fine-tuning on the GPU (see cuda_ft.h), step for step
// as train/block_ft.c: the same mini-batch order (crvq_ft_shuffle on the
// same stream), Adam on the float32 vector, after every epoch the
// validation MSE with codebooks and scales rounded to fp16, keep-best from
// epoch 0, patience. The calibration inputs and targets go up once and stay
// on the GPU; per epoch only the order goes up and two sums come down. The
// projections' Ŵ are re-expanded from the vector after every change.
#include "cuda/cuda_ft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_ft_grad.h"
#include "train/adam.h"
#include "train/block_params.h"
#include "util/error.h"

typedef struct gpu_ft {
    crvq_cu_ft_ws ws;
    size_t per_seq;            // floats of one sequence
    float *X, *Y;              // (n_train + n_val, T, dim) inputs and targets
    float *xb, *yb;            // (B, T, dim) a shuffled batch
    float *m1, *m2;            // (n) Adam's moments
    float *saved, *best;       // (n)
    double *part, *sse;        // crvq_cu_sq_err's scratch; one sum
} gpu_ft;

static void gpu_ft_free(gpu_ft *f) {
    float *all[] = {f->X, f->Y, f->xb, f->yb, f->m1, f->m2, f->saved, f->best};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) crvq_cu_free(all[i]);
    crvq_cu_free(f->part), crvq_cu_free(f->sse);
    crvq_cu_ft_ws_free(&f->ws);
}

static crvq_status gpu_ft_init(gpu_ft *f, const crvq_model *m, int l, const float *x_in, const float *y_ref,
                               int n_seq, int seqlen, int B) {
    memset(f, 0, sizeof *f);
    crvq_status st = crvq_cu_ft_ws_init(&m->cfg, &m->layers[l], B, seqlen, 1, &f->ws);
    if (st) return st;
    f->per_seq = (size_t)seqlen * m->cfg.dim;
    const size_t all = (size_t)n_seq * f->per_seq * sizeof(float), batch = (size_t)B * f->per_seq * sizeof(float);
    const size_t n = f->ws.n * sizeof(float);
    struct { void *p; size_t bytes; } bufs[] = {
        {&f->X, all}, {&f->Y, all}, {&f->xb, batch}, {&f->yb, batch}, {&f->m1, n}, {&f->m2, n},
        {&f->saved, n}, {&f->best, n}, {&f->part, crvq_cu_sq_err_parts() * sizeof(double)}, {&f->sse, sizeof(double)},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && st == CRVQ_OK; i++)
        st = crvq_cu_alloc(bufs[i].p, bufs[i].bytes, "block fine-tuning");
    if (st == CRVQ_OK) st = crvq_cu_upload(f->X, x_in, all);
    if (st == CRVQ_OK) st = crvq_cu_upload(f->Y, y_ref, all);
    if (st == CRVQ_OK) st = crvq_cu_zero(f->m1, n);
    if (st == CRVQ_OK) st = crvq_cu_zero(f->m2, n);
    if (st == CRVQ_OK) st = crvq_cu_ft_expand(&f->ws);
    if (st) gpu_ft_free(f);
    return st;
}

static crvq_status sse_take(gpu_ft *f, double *out) {
    crvq_status st = crvq_cu_download(out, f->sse, sizeof *out);
    return st == CRVQ_OK ? crvq_cu_zero(f->sse, sizeof(double)) : st;
}

// *mse over sequences [s, s + n_seq) of X, Y in batches of B.
static crvq_status mse(gpu_ft *f, int s, int n_seq, double *out) {
    crvq_status st = crvq_cu_zero(f->sse, sizeof(double));
    for (int s0 = 0; s0 < n_seq && st == CRVQ_OK; s0 += f->ws.B) {
        const int nb = n_seq - s0 < f->ws.B ? n_seq - s0 : f->ws.B;
        const size_t at = (size_t)(s + s0) * f->per_seq;
        st = crvq_cu_ft_forward(&f->ws, f->X + at, nb);
        if (st == CRVQ_OK)
            st = crvq_cu_check(crvq_cu_sq_err(f->ws.y, f->Y + at, nb * f->per_seq, 0, NULL, f->part, f->sse), "MSE");
    }
    if (st == CRVQ_OK) st = sse_take(f, out);
    *out /= (double)n_seq * f->per_seq;
    return st;
}

// One step on the batch of sequences order[0..nb): loss = mean (y − y_ref)²,
// its gradient, Adam, Ŵ refreshed.
static crvq_status step(gpu_ft *f, crvq_adam *opt, const int *order, int nb) {
    const size_t bytes = f->per_seq * sizeof(float), len = nb * f->per_seq;
    crvq_status st = CRVQ_OK;
    for (int b = 0; b < nb && st == CRVQ_OK; b++) {
        st = crvq_cu_copy(f->xb + b * f->per_seq, f->X + order[b] * f->per_seq, bytes);
        if (st == CRVQ_OK) st = crvq_cu_copy(f->yb + b * f->per_seq, f->Y + order[b] * f->per_seq, bytes);
    }
    if (st == CRVQ_OK) st = crvq_cu_ft_forward(&f->ws, f->xb, nb);
    const float two_over = (float)(2.0 / (double)len);
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_sq_err(f->ws.y, f->yb, len, two_over, f->ws.dy, f->part, f->sse), "loss");
    if (st == CRVQ_OK) st = crvq_cu_zero(f->ws.grad, f->ws.n * sizeof(float));
    if (st == CRVQ_OK) st = crvq_cu_ft_backward(&f->ws, f->ws.dy, NULL);
    float stp, inv_sqrt_bc2;
    crvq_adam_next(opt, &stp, &inv_sqrt_bc2);
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_adam(f->ws.params, f->ws.grad, f->m1, f->m2, f->ws.n, (float)opt->beta1,
                                        (float)opt->beta2, stp, inv_sqrt_bc2, (float)opt->eps), "Adam");
    if (st == CRVQ_OK) st = crvq_cu_ft_expand(&f->ws);
    return st;
}

static crvq_status train_epoch(gpu_ft *f, crvq_adam *opt, crvq_rng *rng, int *order, int n_train, double *mse_out) {
    crvq_ft_shuffle(rng, order, n_train);
    crvq_status st = crvq_cu_zero(f->sse, sizeof(double));
    for (int s0 = 0; s0 < n_train && st == CRVQ_OK; s0 += f->ws.B)
        st = step(f, opt, order + s0, n_train - s0 < f->ws.B ? n_train - s0 : f->ws.B);
    if (st == CRVQ_OK) st = sse_take(f, mse_out);
    *mse_out /= (double)n_train * f->per_seq;
    return st;
}

// Codebooks and scales of every VQ projection rounded to fp16 (each
// projection's are contiguous in the vector), Ŵ refreshed.
static crvq_status round_fp16(gpu_ft *f) {
    const crvq_block_params *bp = &f->ws.bp;
    crvq_status st = CRVQ_OK;
    for (int i = 0; i < CRVQ_PROJ_COUNT && st == CRVQ_OK; i++) {
        if (!bp->is_vq[i]) continue;
        size_t a = bp->off_cb[i][0], b = bp->off_sc[i] + (size_t)f->ws.proj[i].n_out;
        st = crvq_cu_check(crvq_cu_round_f16(f->ws.params + a, b - a), "fp16 rounding");
    }
    return st == CRVQ_OK ? crvq_cu_ft_expand(&f->ws) : st;
}

// An epoch's validation with fp16 parameters; keeps them in best when better.
static crvq_status validate(gpu_ft *f, int s_val, int n_eval, int epoch, crvq_ft_report *rep, int *stale,
                            double *val) {
    const size_t bytes = f->ws.n * sizeof(float);
    crvq_status st = crvq_cu_copy(f->saved, f->ws.params, bytes);
    if (st == CRVQ_OK) st = round_fp16(f);
    if (st == CRVQ_OK) st = mse(f, s_val, n_eval, val);
    if (st == CRVQ_OK && *val < rep->val_mse_best) {
        rep->val_mse_best = *val;
        rep->best_epoch = epoch;
        st = crvq_cu_copy(f->best, f->ws.params, bytes);
        *stale = 0;
    } else {
        ++*stale;
    }
    if (st == CRVQ_OK) st = crvq_cu_copy(f->ws.params, f->saved, bytes);
    return st == CRVQ_OK ? crvq_cu_ft_expand(&f->ws) : st;
}

static crvq_status epochs(gpu_ft *f, int l, int n_train, int n_val, const crvq_ft_params *p, int *order,
                          crvq_ft_report *rep) {
    crvq_adam opt = {.n = f->ws.n, .lr = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps};
    const int s_val = n_val ? n_train : 0, n_eval = n_val ? n_val : n_train;
    rep->n_params = (int)f->ws.n;
    crvq_status st = mse(f, 0, n_train, &rep->train_mse0);
    rep->val_mse0 = rep->train_mse0;
    if (st == CRVQ_OK && n_val) st = mse(f, s_val, n_val, &rep->val_mse0);
    rep->val_mse_best = rep->val_mse0;
    crvq_rng rng;
    crvq_ft_rng_init(&rng, p, l);
    int stale = 0;
    for (int epoch = 1; epoch <= p->max_epochs && stale < p->patience && st == CRVQ_OK; epoch++) {
        double train = 0, val = 0;
        st = train_epoch(f, &opt, &rng, order, n_train, &train);
        rep->epochs_run = epoch;
        if (st == CRVQ_OK) st = validate(f, s_val, n_eval, epoch, rep, &stale, &val);
        if (st == CRVQ_OK && p->progress) p->progress(p->progress_user, epoch, train, val);
        if (!isfinite(train)) break; // diverged: nothing later can be kept
    }
    return st;
}

crvq_status crvq_cuda_block_finetune(crvq_model *m, int l, const float *x_in, const float *y_ref, int n_train,
                                     int n_val, int seqlen, const crvq_ft_params *p, crvq_ft_report *rep) {
    const double t0 = crvq_cu_seconds();
    memset(rep, 0, sizeof *rep);
    crvq_status st = crvq_ft_check_args(m, l, x_in, y_ref, n_train, n_val, seqlen, p);
    if (st) return st;
    const int most = n_train > n_val ? n_train : n_val;
    int *order = malloc((size_t)n_train * sizeof *order);
    if (!order) return crvq_fail(CRVQ_ERR_NOMEM, "block %d fine-tuning: out of memory", l);
    for (int i = 0; i < n_train; i++) order[i] = i;
    gpu_ft f;
    st = gpu_ft_init(&f, m, l, x_in, y_ref, n_train + n_val, seqlen, p->batch_seqs < most ? p->batch_seqs : most);
    if (st == CRVQ_OK) {
        st = epochs(&f, l, n_train, n_val, p, order, rep);
        // the kept parameters into the model, through the host vector
        if (st == CRVQ_OK && rep->best_epoch > 0) st = crvq_cu_download(f.ws.host, f.best, f.ws.n * sizeof(float));
        if (st == CRVQ_OK && rep->best_epoch > 0) st = crvq_block_params_write(&f.ws.bp, m, l, f.ws.host);
        gpu_ft_free(&f);
    }
    free(order);
    rep->seconds = crvq_cu_seconds() - t0;
    return st;
}
