// pipeline.c — whole-model quantization, block by block (crvq.h,
// crvq_quantize_model).
//
// Memory: the calibration activations X (n_seq, seqlen, dim) live once; each
// block is run one sequence at a time through a crvq_state sized for one
// sequence. The proxy Hessians are accumulated in float64 by the device's
// table (backend.h: dsyrk on the CPU, cuBLAS DSYRK on the GPU).
#include "crvq.h"

#include "backend/backend.h"
#include "container/container.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/forward.h"
#include "model/linear.h"
#include "model/linear_bind.h"
#include "model/storage.h"
#include "pipeline/alloc.h"
#include "pipeline/head.h"
#include "pipeline/run_id.h"
#include "model/bits.h"
#include "train/block_ft.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void crvq_pipeline_opts_default(crvq_pipeline_opts *o, crvq_method method) {
    memset(o, 0, sizeof *o);
    crvq_quant_params_default(&o->qp, method);
    o->finetune = method == CRVQ_METHOD_VQ || method == CRVQ_METHOD_CRVQ;
    crvq_ft_params_default(&o->ft);
}

// ------------------------------------------------------------ Hessians ---

typedef struct hessians {
    const crvq_backend *be;  // the device that accumulates them (backend.h's hessian_*)
    void *ctx;               // its accumulator while a block's Hessian pass runs
    double *H[CRVQ_N_TAPS];  // (width, width) on the host
    int width[CRVQ_N_TAPS];
    long long rows;          // calibration rows accumulated (same for every tap)
    int on;                  // accumulate (training sequences only)
    crvq_status st;          // the first failure of an accumulation
} hessians;

static void hessian_tap(void *ctx, int tap, const float *x, int n, int width) {
    hessians *h = ctx;
    (void)width;
    if (!h->on || h->st) return;
    h->st = h->be->hessian_add(h->ctx, tap, x, n);
    if (tap == CRVQ_TAP_ATTN_IN) h->rows += n;
}

// The Hessians live for one block: allocated for its calibration pass, each
// freed after the last layer that reads it, so that while down_proj (the
// last layer, with the largest working set) is quantized only its (F, F)
// Hessian remains: 8·(2·D² + Dq²) bytes less at the peak, 384 MiB for a 7B
// model (docs/memory.md).
static crvq_status hessians_alloc(hessians *h) {
    for (int t = 0; t < CRVQ_N_TAPS; t++)
        if (!h->H[t] && !(h->H[t] = malloc((size_t)h->width[t] * h->width[t] * sizeof(double))))
            return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for proxy Hessians");
    return CRVQ_OK;
}

// Layer j of the block is quantized: free its Hessian unless a later layer shares it.
static void hessians_done(hessians *h, int j) {
    const int tap = crvq_proj_table[j].tap;
    for (int k = j + 1; k < CRVQ_PROJ_COUNT; k++)
        if (crvq_proj_table[k].tap == tap) return;
    free(h->H[tap]);
    h->H[tap] = NULL;
}

// ------------------------------------------------------------- quantize ---

// Quantize layer `which` of block l against H with each of the n settings
// p[0..n) into res[0..n) (compressed form and loss; the reconstructions
// are not kept). The dense weight is read for all of them, then its pages
// leave the resident set: nothing reads it again.
static crvq_status quantize_candidates(crvq_model *m, int l, int which, const double *H, const crvq_quant_params *p,
                                       int n, crvq_quant_result *res) {
    crvq_linear *lin = crvq_block_proj(&m->layers[l], which);
    char what[64];
    snprintf(what, sizeof what, "blk.%d.%s", l, crvq_proj_table[which].gguf);
    if (lin->kind != CRVQ_LINEAR_DENSE)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: layer is already quantized", what);
    const float *w;
    float *widened; // a 16-bit layer's float32 copy, for this layer only
    crvq_status st = crvq_linear_dense_f32(lin, &w, &widened);
    for (int c = 0; c < n && !st; c++) {
        st = crvq_quantize_matrix(w, lin->n_out, lin->n_in, H, &p[c], &res[c]);
        if (!st) {
            free(res[c].w_hat);
            res[c].w_hat = NULL;
        }
    }
    free(widened);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", crvq_last_error());
        return crvq_fail(st, "%s: %s", what, msg);
    }
    if (lin->w16) crvq_storage_release(m->storage, lin->w16, (size_t)lin->n_out * lin->n_in * 2);
    else crvq_storage_release(m->storage, lin->w, (size_t)lin->n_out * lin->n_in * 4);
    return CRVQ_OK;
}

// Swap r's compressed form in for layer `which` of block l (its runtime
// weights take r's arrays).
static crvq_status attach_result(crvq_model *m, int l, int which, crvq_quant_result *r) {
    crvq_linear *lin = crvq_block_proj(&m->layers[l], which);
    char what[64];
    snprintf(what, sizeof what, "blk.%d.%s", l, crvq_proj_table[which].gguf);
    crvq_status st;
    void *weights = NULL;
    crvq_linear_kind kind = r->method == CRVQ_METHOD_VQ || r->method == CRVQ_METHOD_CRVQ ? CRVQ_LINEAR_VQ
                                                                                         : CRVQ_LINEAR_SCALAR;
    if (kind == CRVQ_LINEAR_VQ) {
        crvq_vq_weights *W;
        st = crvq_vq_weights_from_layer(&r->vq, what, &W);
        if (st == CRVQ_OK) crvq_vq_weights_take(W, &r->vq); // the codes stay where the quantizer put them
        weights = W;
    } else {
        crvq_scalar_weights *W;
        st = crvq_scalar_weights_from_layer(&r->scalar, what, &W);
        if (st == CRVQ_OK) crvq_scalar_weights_take(W, &r->scalar);
        weights = W;
    }
    if (st || (st = crvq_linear_attach(m->storage, lin, kind, weights))) return st;
    lin->w = NULL; // the original stays in the storage (or the mapped file) until the model is freed
    lin->w16 = NULL;
    return CRVQ_OK;
}

// --------------------------------------------------------------- driver ---

typedef struct run {
    crvq_model *m;
    const crvq_pipeline_opts *o;
    const crvq_backend *be; // the device of --device: its block_forward and block_finetune, when it has them, run the blocks
    crvq_state *s;
    float *X;   // (n_seq, seqlen, dim) block inputs, then outputs
    int n_train, n_val, n_seq, seqlen; // calibration windows: n_seq = n_train + n_val
    double sum_rel;  // Σ L(Ŵ)/L(0) over the layers quantized in this run
    double sum_loss; // Σ L(Ŵ): what --target-bpw minimises
    int n_rel;
    double ft_seconds, sum_ft_ratio;
    double forward_seconds, layers_seconds, propagate_seconds; // the stages' time over all blocks
    int n_ft;
    double layer_share[CRVQ_PROJ_COUNT]; // each layer's fraction of a block's parameters
} run;

static void report(const run *r, crvq_progress p) {
    if (r->o->progress) r->o->progress(r->o->progress_ctx, &p);
}

// Fraction of the whole run done at a point inside block l: the Hessian pass
// counts 10% of a block, the layers 80% by parameter count, the propagation 10%.
static double fraction(const run *r, int l, double within) { return (l + within) / r->m->cfg.n_layers; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Run block l on every sequence: x -> block(x) in place; taps may watch (the
// first n_taps_seqs sequences). On a device with a block forward (the GPU)
// the whole X goes there and its taps feed h's context directly. With
// keep 0 (CPU only) the outputs are not wanted: only the tapped sequences
// run and X is left as it was.
static crvq_status run_block(run *r, int l, hessians *h, int n_taps_seqs, int keep) {
    if (r->be && r->be->block_forward) {
        int taps = h ? (n_taps_seqs < r->n_seq ? n_taps_seqs : r->n_seq) : 0;
        if (h) h->rows += (long long)taps * r->seqlen;
        return r->be->block_forward(&r->m->cfg, &r->m->layers[l], r->X, r->n_seq, r->seqlen, taps,
                                    h ? h->ctx : NULL);
    }
    size_t stride = (size_t)r->seqlen * r->m->cfg.dim;
    int n = keep || n_taps_seqs > r->n_seq ? r->n_seq : n_taps_seqs;
    for (int i = 0; i < n; i++) {
        float *x = r->X + i * stride;
        memcpy(crvq_state_residual(r->s), x, stride * sizeof(float));
        if (h) h->on = i < n_taps_seqs;
        crvq_block_forward(r->m, r->s, l, r->seqlen, 0, h ? hessian_tap : NULL, h);
        if (keep) memcpy(x, crvq_state_residual(r->s), stride * sizeof(float));
    }
    return h ? h->st : CRVQ_OK;
}

// The settings layer j is quantized with: qp alone, or under --target-bpw
// the allocator's candidates (alloc.h), cheapest first.
static int layer_settings(const run *r, int j, crvq_quant_params *p) {
    if (!(r->o->target_bpw > 0)) {
        p[0] = r->o->qp;
        return 1;
    }
    int n_out, n_in;
    crvq_proj_shape(&r->m->cfg, j, &n_out, &n_in);
    return crvq_alloc_candidates(&r->o->qp, n_out, n_in, p);
}

// Exact bits of block l's seven layers as they are now, and their weights.
static int64_t block_bits(const crvq_model *m, int l, int64_t *weights) {
    int64_t bits = 0;
    *weights = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        const crvq_linear *lin = crvq_layer_proj(&m->layers[l], j);
        const int64_t P = (int64_t)lin->n_out * lin->n_in;
        bits += llround(crvq_linear_bits(lin) * (double)P); // an integer, up to rounding
        *weights += P;
    }
    return bits;
}

// --target-bpw: block l's choice under the running budget (alloc.h). The
// blocks before it count as the model holds them, so a resumed run budgets
// as the uninterrupted one did.
static crvq_status choose_settings(const run *r, int l, const crvq_alloc_block *tab, int *choice) {
    int64_t spent = 0, w = 0;
    for (int k = 0; k < l; k++) spent += block_bits(r->m, k, &w);
    block_bits(r->m, l, &w); // only its weights: every block has the same shapes
    const int64_t cap = crvq_alloc_cap(r->o->target_bpw, (int64_t)l * w, w, spent);
    if (crvq_alloc_choose(tab, cap, choice))
        return crvq_fail(CRVQ_ERR_INVALID, "--target-bpw %g: no setting of block %d fits its %lld bits",
                         r->o->target_bpw, l, (long long)cap);
    return CRVQ_OK;
}

// Block l's seven layers: each quantized at every one of its settings, then
// one setting per layer (the only one, or the allocator's choice) swapped
// in; the others are dropped.
static crvq_status quantize_layers(run *r, int l, hessians *h) {
    const crvq_config *c = &r->m->cfg;
    crvq_quant_result res[CRVQ_PROJ_COUNT][CRVQ_ALLOC_MAX_CAND];
    memset(res, 0, sizeof res);
    crvq_alloc_block tab;
    memset(&tab, 0, sizeof tab);
    int choice[CRVQ_PROJ_COUNT] = {0};
    crvq_status st = CRVQ_OK;
    double within = 0.1;
    for (int j = 0; j < CRVQ_PROJ_COUNT && !st; j++) {
        report(r, (crvq_progress){CRVQ_STAGE_QUANTIZE, l, c->n_layers, j, 0, 0, fraction(r, l, within), 0});
        crvq_quant_params p[CRVQ_ALLOC_MAX_CAND];
        tab.n[j] = layer_settings(r, j, p);
        st = quantize_candidates(r->m, l, j, h->H[crvq_proj_table[j].tap], p, tab.n[j], res[j]);
        hessians_done(h, j);
        int n_out, n_in;
        crvq_proj_shape(c, j, &n_out, &n_in);
        for (int k = 0; k < tab.n[j] && !st; k++) {
            tab.bits[j][k] = crvq_alloc_layer_bits(&p[k], n_out, n_in);
            tab.loss[j][k] = res[j][k].loss;
        }
        within += 0.8 * r->layer_share[j];
    }
    if (!st && r->o->target_bpw > 0) st = choose_settings(r, l, &tab, choice);
    for (int j = 0; j < CRVQ_PROJ_COUNT && !st; j++) {
        crvq_quant_result *q = &res[j][choice[j]];
        const double rel = q->loss0 > 0 ? q->loss / q->loss0 : 0, bits = q->bits, loss = q->loss;
        if ((st = attach_result(r->m, l, j, q))) break;
        r->sum_rel += rel;
        r->sum_loss += loss;
        r->n_rel++;
        report(r, (crvq_progress){CRVQ_STAGE_QUANTIZE, l, c->n_layers, j, rel, bits, fraction(r, l, 0.9), 0});
    }
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++)
        for (int k = 0; k < tab.n[j]; k++) crvq_quant_result_free(&res[j][k]);
    return st;
}

static crvq_status quantize_block(run *r, int l, hessians *h) {
    const crvq_config *c = &r->m->cfg;
    size_t bytes = (size_t)r->n_seq * r->seqlen * c->dim * sizeof(float);
    report(r, (crvq_progress){CRVQ_STAGE_HESSIAN, l, c->n_layers, -1, 0, 0, fraction(r, l, 0), 0});
    h->rows = 0;
    crvq_status st = hessians_alloc(h);
    if (!st) st = h->be->hessian_begin(CRVQ_N_TAPS, h->width, r->seqlen, h->H, &h->ctx);
    if (st) return st;
    // The Hessian pass runs the full-precision block on a copy of the inputs;
    // its outputs are the fine-tuning targets, the inputs go on to the
    // quantized block. Without fine-tuning nothing reads the outputs: on the
    // CPU the pass then leaves X as it is and needs no copy (one X less at
    // the peak: 1 GiB at 128 x 512 x 4096; docs/quantization.md, "Memory").
    const int twin = r->o->finetune || (r->be && r->be->block_forward);
    float *inputs = twin ? malloc(bytes) : NULL;
    if (twin && !inputs) {
        h->be->hessian_end(h->ctx, 0);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for calibration activations");
    }
    if (twin) memcpy(inputs, r->X, bytes);
    h->st = CRVQ_OK;
    double t0 = now();
    st = run_block(r, l, h, r->n_train, twin);
    float *targets = twin ? r->X : NULL;
    if (twin) r->X = inputs;
    crvq_status end = h->be->hessian_end(h->ctx, st ? 0 : h->rows);
    h->ctx = NULL;
    if (!st) st = end;
    double t1 = now();
    r->forward_seconds += t1 - t0;

    if (!st) st = quantize_layers(r, l, h);
    r->layers_seconds += now() - t1;
    if (!st && r->o->finetune) {
        report(r, (crvq_progress){CRVQ_STAGE_FINETUNE, l, c->n_layers, -1, 0, 0, fraction(r, l, 0.9), 0});
        crvq_ft_params ft = r->o->ft;
        ft.seed = r->o->qp.seed + (uint64_t)l; // each block its own mini-batch order
        crvq_ft_report fr;
        st = r->be && r->be->block_finetune
                 ? r->be->block_finetune(r->m, l, r->X, targets, r->n_train, r->n_val, r->seqlen, &ft, &fr)
                 : crvq_block_finetune(r->m, l, r->X, targets, r->n_train, r->n_val, r->seqlen, &ft, &fr);
        if (!st) {
            double ratio = fr.val_mse0 > 0 ? fr.val_mse_best / fr.val_mse0 : 1;
            r->ft_seconds += fr.seconds;
            r->sum_ft_ratio += ratio;
            r->n_ft++;
            report(r, (crvq_progress){CRVQ_STAGE_FINETUNE, l, c->n_layers, -1, ratio, 0, fraction(r, l, 0.9), 0});
        }
    }
    free(targets);
    if (st) return st;
    report(r, (crvq_progress){CRVQ_STAGE_PROPAGATE, l, c->n_layers, -1, 0, 0, fraction(r, l, 0.9), 0});
    double t2 = now();
    st = run_block(r, l, NULL, 0, 1);
    r->propagate_seconds += now() - t2;
    crvq_state_release_layer(r->m, r->s, l); // block l runs no more
    return st;
}

static crvq_status pipeline(run *r, const crvq_calib *cal, crvq_pipeline_report *rep) {
    crvq_model *m = r->m;
    const crvq_config *c = &m->cfg;
    const crvq_pipeline_opts *o = r->o;
    crvq_status st;
    // embeddings of every calibration window
    for (int i = 0; i < r->n_seq; i++)
        for (int t = 0; t < r->seqlen; t++)
            crvq_model_embed_row(m, cal->tokens[(size_t)i * r->seqlen + t], r->X + ((size_t)i * r->seqlen + t) * c->dim);

    // what the checkpoint's blocks depend on, taken while the model is as loaded
    crvq_run_id id;
    if (o->checkpoint && (st = crvq_run_id_make(m, o, cal, &id))) return st;
    int start = 0;
    struct stat sb;
    if (o->resume && o->checkpoint && stat(o->checkpoint, &sb) == 0) {
        if ((st = crvq_checkpoint_load(m, &id, o->checkpoint, &start))) return st;
        for (int l = 0; l < start; l++) {
            if ((st = run_block(r, l, NULL, 0, 1))) return st;
            crvq_state_release_layer(m, r->s, l);
            report(r, (crvq_progress){CRVQ_STAGE_BLOCK_DONE, l, c->n_layers, -1, 0, 0, fraction(r, l, 1), 1});
        }
        rep->blocks_resumed = start;
    }

    // The device that quantizes the layers accumulates their Hessians;
    // rtn and gptq run on the CPU (crvq_quantize_matrix refuses them elsewhere).
    hessians h = {.be = crvq_backend_get(o->qp.device)};
    if (!h.be || !h.be->hessian_begin)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s: this build cannot accumulate Hessians there",
                         crvq_device_name(o->qp.device));
    for (int t = 0; t < CRVQ_N_TAPS; t++) h.width[t] = crvq_tap_width(c, t);
    st = CRVQ_OK;

    // Loading checked every weight for NaN/Inf and the run id digested them:
    // the whole mapped file is resident now. Each block reads its own
    // weights back in and quantize_linear gives them back as it replaces them.
    crvq_storage_release_maps(m->storage);
    for (int l = start; l < c->n_layers && !st; l++) {
        if ((st = quantize_block(r, l, &h))) break;
        if (o->checkpoint && (st = crvq_checkpoint_write(m, l + 1, &id, o->checkpoint))) break;
        report(r, (crvq_progress){CRVQ_STAGE_BLOCK_DONE, l, c->n_layers, -1, 0, 0, fraction(r, l, 1), 0});
    }
    for (int t = 0; t < CRVQ_N_TAPS; t++) free(h.H[t]);
    return st;
}

crvq_status crvq_quantize_model(crvq_model *m, const crvq_calib *cal, const crvq_pipeline_opts *o,
                                crvq_pipeline_report *rep) {
    memset(rep, 0, sizeof *rep);
    const double t0 = now();
    if (m->tok_embd_q) return crvq_fail(CRVQ_ERR_INVALID, "%s: the token embedding is already quantized", m->path);
    crvq_status st = crvq_pipeline_head_check(m, o);
    if (!st && o->target_bpw > 0) st = crvq_target_bpw_check(m, &o->qp, o->target_bpw, NULL, NULL);
    if (st) return st;
    if (cal->n_train < 1 || cal->n_val < 0 || cal->seqlen < 2)
        return crvq_fail(CRVQ_ERR_INVALID, "calibration: bad sample counts or length");
    for (size_t i = 0; i < (size_t)(cal->n_train + cal->n_val) * cal->seqlen; i++)
        if (cal->tokens[i] < 0 || cal->tokens[i] >= m->cfg.vocab_size)
            return crvq_fail(CRVQ_ERR_INVALID, "calibration: token %d is outside the vocabulary (%d)", cal->tokens[i],
                             m->cfg.vocab_size);
    run r = {.m = m, .o = o, .be = crvq_backend_get(o->qp.device), .n_train = cal->n_train, .n_val = cal->n_val,
             .n_seq = cal->n_train + cal->n_val, .seqlen = cal->seqlen};
    double total = 0;
    crvq_layer *L0 = &m->layers[0];
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        const crvq_linear *lin = crvq_block_proj(L0, j);
        total += r.layer_share[j] = (double)lin->n_out * lin->n_in;
    }
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) r.layer_share[j] /= total;
    r.X = malloc((size_t)r.n_seq * r.seqlen * m->cfg.dim * sizeof(float));
    if (!r.X) st = crvq_fail(CRVQ_ERR_NOMEM, "out of memory for %d x %d calibration activations", r.n_seq, r.seqlen);
    if (!st) st = crvq_state_init(m, r.seqlen, r.seqlen, &r.s);
    if (!st) st = pipeline(&r, cal, rep);
    if (!st && (o->head.bits || o->embed.bits)) {
        const double h0 = now();
        st = crvq_pipeline_head(m, o, r.X, r.n_train, r.seqlen, &rep->head_rel_loss);
        rep->head_seconds = now() - h0;
    }
    if (!st) {
        rep->linear_bits = crvq_model_linear_bpw(m, NULL);
        rep->mean_rel_loss = r.n_rel ? r.sum_rel / r.n_rel : 0;
        rep->sum_loss = r.sum_loss;
        rep->ft_seconds = r.ft_seconds;
        rep->forward_seconds = r.forward_seconds;
        rep->layers_seconds = r.layers_seconds;
        rep->propagate_seconds = r.propagate_seconds;
        rep->ft_mse_ratio = r.n_ft ? r.sum_ft_ratio / r.n_ft : 1;
    }
    crvq_state_free(r.s);
    free(r.X);
    rep->seconds = now() - t0;
    return st;
}
