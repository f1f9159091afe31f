// head.c — the output head and the token embedding, quantized after the
// blocks with the scalar kind of RTN / GPTQ (kernels/sq_weights.h), so the
// runtime reads them compressed: the head through the scalar kernels, the
// embedding one dequantized row per token.
#include "pipeline/head.h"

#include "backend/backend.h"
#include "kernels/ops.h"
#include "kernels/sq_weights.h"
#include "model/linear.h"
#include "model/linear_bind.h"
#include "model/storage.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crvq_tensor_fmt_parse(const char *v, crvq_tensor_fmt *f) {
    int bits = 0, group = 128, n = 0;
    if (strcmp(v, "f16") == 0 || strcmp(v, "none") == 0) {
        f->bits = 0;
        return 0;
    }
    size_t len = strlen(v);
    int ok = (sscanf(v, "q%d%n", &bits, &n) == 1 && (size_t)n == len) ||
             (sscanf(v, "q%dg%d%n", &bits, &group, &n) == 2 && (size_t)n == len);
    // v[1] a digit: sscanf's %d would also take "q+4" or "q 4"
    if (!ok || bits < 2 || bits > 8 || group < 1 || v[1] < '0' || v[1] > '9') return -1;
    f->bits = bits;
    f->group_size = group;
    return 0;
}

void crvq_tensor_fmt_params(const crvq_tensor_fmt *f, uint64_t seed, crvq_quant_params *p) {
    crvq_quant_params_default(p, f->method);
    p->bits = f->bits;
    p->group_size = f->group_size;
    p->seed = seed;
}

// H = XᵀX/N (dim, dim) of the head's inputs: RMSNorm(x) · out_norm of every
// row of the training windows, a window at a time, through the CPU's proxy
// Hessian entries (backend/cpu_hessian.c: float64, one tap).
static crvq_status head_hessian(const crvq_model *m, const float *X, int n_train, int seqlen, double *H) {
    int dim = m->cfg.dim;
    float *xn = malloc((size_t)seqlen * dim * sizeof *xn);
    void *ctx = NULL;
    crvq_status st = xn ? crvq_cpu_hessian_begin(1, &dim, seqlen, &H, &ctx)
                        : crvq_fail(CRVQ_ERR_NOMEM, "out of memory for the output head's Hessian");
    for (int i = 0; i < n_train && !st; i++) {
        crvq_rmsnorm_rows(X + (size_t)i * seqlen * dim, m->out_norm, seqlen, dim, m->cfg.norm_eps, xn, NULL);
        st = crvq_cpu_hessian_add(ctx, 0, xn, seqlen);
    }
    crvq_cpu_hessian_end(ctx, st ? 0 : (long long)n_train * seqlen);
    free(xn);
    return st;
}

// Quantize W (rows, dim) in format f (H may be NULL for RTN) into scalar weights.
static crvq_status quantize_tensor(const float *W, int rows, int dim, const double *H, const crvq_tensor_fmt *f,
                                   uint64_t seed, const char *what, crvq_scalar_weights **out, double *rel_loss) {
    crvq_quant_params p;
    crvq_tensor_fmt_params(f, seed, &p);
    double *eye = NULL;
    if (!H) { // RTN ignores H, but the dispatcher checks and scores against one
        if (!(eye = calloc((size_t)dim * dim, sizeof *eye)))
            return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what);
        for (int i = 0; i < dim; i++) eye[(size_t)i * dim + i] = 1.0;
        H = eye;
    }
    crvq_quant_result r;
    crvq_status st = crvq_quantize_matrix(W, rows, dim, H, &p, &r);
    free(eye);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", crvq_last_error());
        return crvq_fail(st, "%s: %s", what, msg);
    }
    if (rel_loss) *rel_loss = r.loss0 > 0 ? r.loss / r.loss0 : 0;
    st = crvq_scalar_weights_from_layer(&r.scalar, what, out);
    if (st == CRVQ_OK) crvq_scalar_weights_take(*out, &r.scalar);
    crvq_quant_result_free(&r);
    return st;
}

static crvq_status check_fmt(const crvq_model *m, const crvq_tensor_fmt *f, const char *what) {
    if (f->bits < 2 || f->bits > 8)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: %d bits, expected 2..8 (or 0: unquantized)", what, f->bits);
    if (f->group_size < 1 || m->cfg.dim % f->group_size)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: group size %d does not divide the model's dim %d", what,
                         f->group_size, m->cfg.dim);
    if (f->method != CRVQ_METHOD_RTN && f->method != CRVQ_METHOD_GPTQ)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: method %s, expected rtn or gptq", what, crvq_method_name(f->method));
    return CRVQ_OK;
}

static crvq_status quantize_head(crvq_model *m, const crvq_pipeline_opts *o, const float *X, int n_train,
                                 int seqlen, double *rel_loss) {
    crvq_config *c = &m->cfg;
    crvq_linear *out = &m->output;
    if (out->kind != CRVQ_LINEAR_DENSE) return crvq_fail(CRVQ_ERR_INVALID, "output head: already quantized");
    double *H = NULL;
    crvq_status st = CRVQ_OK;
    if (o->head.method == CRVQ_METHOD_GPTQ) {
        if (!(H = malloc((size_t)c->dim * c->dim * sizeof *H)))
            return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for the output head's Hessian");
        st = head_hessian(m, X, n_train, seqlen, H);
    }
    crvq_scalar_weights *W = NULL;
    const float *w;
    float *widened = NULL; // a 16-bit head's float32 copy
    if (!st) st = crvq_linear_dense_f32(out, &w, &widened);
    if (!st) st = quantize_tensor(w, out->n_out, out->n_in, H, &o->head, o->qp.seed, "output head", &W, rel_loss);
    free(widened);
    free(H);
    if (st) return st;
    *out = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = c->vocab_size, .n_in = c->dim};
    if ((st = crvq_linear_attach(m->storage, out, CRVQ_LINEAR_SCALAR, W))) return st;
    c->tied_embeddings = 0; // the head is its own tensor now
    return CRVQ_OK;
}

static crvq_status quantize_embed(crvq_model *m, const crvq_pipeline_opts *o) {
    crvq_config *c = &m->cfg;
    crvq_scalar_weights *W = NULL;
    const crvq_linear emb = crvq_model_embedding(m);
    const float *w;
    float *widened; // a 16-bit embedding's float32 copy
    crvq_status st = crvq_linear_dense_f32(&emb, &w, &widened);
    if (!st) st = quantize_tensor(w, c->vocab_size, c->dim, NULL, &o->embed, o->qp.seed, "token embedding", &W, NULL);
    free(widened);
    if (st || (st = crvq_storage_own(m->storage, W, (void (*)(void *))crvq_scalar_weights_free))) return st;
    m->tok_embd_q = W;
    m->tok_embd = NULL; // the original stays in the storage (or the mapped file) until the model is freed
    m->tok_embd16 = NULL;
    if (c->tied_embeddings)
        m->output = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = c->vocab_size, .n_in = c->dim, .sq = W};
    return CRVQ_OK;
}

crvq_status crvq_pipeline_head_check(const crvq_model *m, const crvq_pipeline_opts *o) {
    crvq_status st;
    if (o->head.bits && (st = check_fmt(m, &o->head, "--head"))) return st;
    if (o->embed.bits && (st = check_fmt(m, &o->embed, "--embeddings"))) return st;
    if (o->embed.bits && o->embed.method != CRVQ_METHOD_RTN)
        return crvq_fail(CRVQ_ERR_INVALID, "--embeddings: a lookup table has no Hessian; only rtn applies");
    if ((o->head.bits && m->output.kind != CRVQ_LINEAR_DENSE) || (o->embed.bits && m->tok_embd_q))
        return crvq_fail(CRVQ_ERR_INVALID, "%s: the %s is already quantized", m->path,
                         o->embed.bits && m->tok_embd_q ? "token embedding" : "output head");
    return CRVQ_OK;
}

crvq_status crvq_pipeline_head(crvq_model *m, const crvq_pipeline_opts *o, const float *X, int n_train,
                               int seqlen, double *rel_loss) {
    crvq_status st;
    *rel_loss = 0;
    if ((st = crvq_pipeline_head_check(m, o))) return st;
    if (o->head.bits && (st = quantize_head(m, o, X, n_train, seqlen, rel_loss))) return st;
    if (o->embed.bits && (st = quantize_embed(m, o))) return st;
    return CRVQ_OK;
}
