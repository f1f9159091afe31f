// run_id.c — the identity of a quantization run (see run_id.h).
#include "pipeline/run_id.h"

#include "model/block_proj.h"
#include "model/config.h"
#include "model/linear.h"
#include "model/storage.h"
#include "util/error.h"
#include "util/hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- make ---

typedef struct opt_buf {
    char *p;
    size_t len, cap;
    int overflow;
} opt_buf;

static void opt(opt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void opt(opt_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) b->overflow = 1;
    else b->len += (size_t)n;
}

// Every setting that changes the blocks, in a fixed order. Doubles are
// printed exactly (%.17g). A new field of crvq_quant_params or
// crvq_ft_params that changes results belongs here.
static crvq_status options(const crvq_pipeline_opts *o, const crvq_calib *cal, char *buf, size_t cap) {
    const crvq_quant_params *p = &o->qp;
    opt_buf b = {buf, 0, cap, 0};
    buf[0] = 0;
    opt(&b, "method=%s", crvq_method_name(p->method));
    if (p->method == CRVQ_METHOD_VQ || p->method == CRVQ_METHOD_CRVQ) {
        opt(&b, " d=%d M=%d e=", p->d, p->M);
        for (int k = 0; k < p->M && k < CRVQ_MAX_CODEBOOKS; k++) opt(&b, "%s%d", k ? "," : "", p->e[k]);
        opt(&b, " lambda=%.17g importance=%s order=%s beam=%d tol=%.17g max_rounds=%d kmeans_iters=%d cg_iters=%d device=%s",
            p->lambda, crvq_importance_name(p->importance), crvq_channel_order_name(p->order), p->beam, p->tol,
            p->max_rounds, p->kmeans_iters, p->cg_iters, crvq_device_name(p->device));
    } else {
        opt(&b, " bits=%d group_size=%d", p->bits, p->group_size);
        if (p->method == CRVQ_METHOD_GPTQ)
            opt(&b, " damp=%.17g act_order=%d block_size=%d", p->damp, p->act_order, p->block_size);
    }
    if (o->target_bpw > 0) opt(&b, " target_bpw=%.17g", o->target_bpw); // replaces lambda (crvq) / M (vq)
    opt(&b, " seed=%llu nsamples=%d nval=%d seqlen=%d finetune=%d", (unsigned long long)p->seed, cal->n_train,
        cal->n_val, cal->seqlen, o->finetune);
    if (o->finetune)
        opt(&b, " ft.lr=%.17g ft.beta1=%.17g ft.beta2=%.17g ft.eps=%.17g ft.epochs=%d ft.patience=%d ft.batch=%d",
            o->ft.lr, o->ft.beta1, o->ft.beta2, o->ft.eps, o->ft.max_epochs, o->ft.patience, o->ft.batch_seqs);
    return b.overflow ? crvq_fail(CRVQ_ERR_INVALID, "checkpoint: the settings do not fit in %zu bytes", cap) : CRVQ_OK;
}

static uint64_t floats(uint64_t h, const float *x, size_t n) { return x ? crvq_digest(x, n * sizeof *x, h) : h ^ 1; }

// A dense weight digests as its float32 values, whether the model holds it
// in float32 or in bf16 / fp16: the same checkpoint read either way is the
// same model. A 16-bit one is widened for this, one matrix at a time, and
// its mapped pages leave the resident set after it (else the digest would
// leave the whole model file resident: 13.5 GB for a 7B bf16 checkpoint).
static crvq_status dense(uint64_t *h, const crvq_model *m, const crvq_linear *lin) {
    const float *w;
    float *widened;
    crvq_status st = crvq_linear_dense_f32(lin, &w, &widened);
    if (st == CRVQ_OK) *h = floats(*h, w, (size_t)lin->n_out * lin->n_in);
    free(widened);
    const size_t n = (size_t)lin->n_out * lin->n_in;
    if (lin->w16) crvq_storage_release(m->storage, lin->w16, 2 * n);
    else if (lin->w) crvq_storage_release(m->storage, lin->w, 4 * n);
    return st;
}

static crvq_status linear(uint64_t *h, const crvq_model *m, const crvq_linear *lin) {
    int64_t shape[3] = {lin->kind, lin->n_out, lin->n_in};
    *h = crvq_xxh64(shape, sizeof shape, *h);
    crvq_status st = CRVQ_OK;
    // a compressed layer cannot be quantized (the pipeline refuses it): its kind is enough
    if (lin->kind == CRVQ_LINEAR_DENSE) st = dense(h, m, lin);
    if (lin->bias) *h = floats(*h, lin->bias, (size_t)lin->n_out);
    return st;
}

// The forward pass's inputs: the configuration fields it reads, then every
// tensor in a fixed order. Not the path: a moved copy is the same model.
static crvq_status model_digest(const crvq_model *m, uint64_t *out) {
    const crvq_config *c = &m->cfg;
    uint64_t h = crvq_config_digest(c, 0);
    crvq_status st = CRVQ_OK;
    if (m->tok_embd_q) {
        h = floats(h, NULL, 0);
    } else {
        const crvq_linear emb = crvq_model_embedding(m);
        st = dense(&h, m, &emb);
    }
    h = floats(h, m->out_norm, (size_t)c->dim);
    if (!c->tied_embeddings) st = linear(&h, m, &m->output);
    for (int l = 0; l < c->n_layers && st == CRVQ_OK; l++) {
        crvq_layer *L = &m->layers[l];
        h = floats(h, L->attn_norm, (size_t)c->dim);
        h = floats(h, L->ffn_norm, (size_t)c->dim);
        if (c->qk_norm) h = floats(floats(h, L->q_norm, (size_t)c->head_dim), L->k_norm, (size_t)c->head_dim);
        for (int j = 0; j < CRVQ_PROJ_COUNT && st == CRVQ_OK; j++) st = linear(&h, m, crvq_block_proj(L, j));
    }
    *out = h;
    return st;
}

crvq_status crvq_run_id_make(const crvq_model *m, const crvq_pipeline_opts *o, const crvq_calib *cal,
                             crvq_run_id *id) {
    memset(id, 0, sizeof *id);
    crvq_status st = model_digest(m, &id->model);
    if (st) return st;
    size_t n_tok = (size_t)(cal->n_train + cal->n_val) * cal->seqlen;
    uint64_t count = cal->n_text_tokens;
    id->calib = crvq_digest(cal->tokens, n_tok * sizeof *cal->tokens, crvq_xxh64(&count, sizeof count, 0));
    return options(o, cal, id->options, sizeof id->options);
}
