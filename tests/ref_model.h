// ref_model.h — float64 references of a transformer block's forward pass,
// written from the formulas (docs/design.md): linear layers of every kind
// (dense, scalar, VQ / CRVQ rebuilt from float64 codebooks and scales),
// RMSNorm, RoPE, causal grouped-query attention, SwiGLU, a whole block, and
// a whole model's logits.
// The gradient checks take central differences of these: in float64 the
// differences are exact to ~1e-10, so what they measure is the float32
// analytic gradient's own error (test_block_grad, test_e2e).
// Include after check.h.
#ifndef CRVQ_TEST_REF_MODEL_H
#define CRVQ_TEST_REF_MODEL_H

#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/linear.h"
#include "train/block_grad.h"
#include "ref_rope.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *to_d(const float *v, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

// ------------------------------------------------------- linear layers ---

// A float64 linear layer: W (n_out, n_in) original column order; for VQ it
// is rebuilt (ref_lin_rebuild) from the float64 codebooks and scales, the
// parameters the gradient checks perturb, with the runtime weights' codes
// and permutation.
typedef struct ref_lin {
    const crvq_linear *L;
    double *W, *bias;
    double *cb[CRVQ_MAX_CODEBOOKS], *scales; // (2^e[k], d), (n_out): VQ only
} ref_lin;

static void ref_lin_rebuild(ref_lin *r) {
    const crvq_linear *L = r->L;
    if (L->kind != CRVQ_LINEAR_VQ) return;
    const crvq_vq_weights *V = L->vq;
    const int d = V->d, E = V->M - 1;
    for (int o = 0; o < L->n_out; o++)
        for (int g = 0; g < V->n_groups; g++) {
            const size_t i0 = (size_t)o * V->n_groups + g;
            const int c0 = V->codes8 ? V->codes8[i0] : V->codes16[i0];
            for (int j = 0; j < d; j++) {
                double v = r->cb[0][(size_t)c0 * d + j];
                if (g < V->n_crit)
                    for (int k = 1; k <= E; k++) {
                        const size_t ix = ((size_t)o * V->n_crit + g) * E + k - 1;
                        v += r->cb[k][(size_t)(V->ext8 ? V->ext8[ix] : V->ext16[ix]) * d + j];
                    }
                int col = g * d + j;
                if (V->perm) col = V->perm[col];
                r->W[(size_t)o * L->n_in + col] = r->scales[o] * v;
            }
        }
}

static void ref_lin_init(ref_lin *r, const crvq_linear *L) {
    memset(r, 0, sizeof *r);
    r->L = L;
    const size_t n = (size_t)L->n_out * L->n_in;
    r->W = malloc(n * sizeof(double));
    r->bias = L->bias ? to_d(L->bias, L->n_out) : NULL;
    if (L->kind == CRVQ_LINEAR_DENSE) {
        float *w = malloc(n * sizeof *w); // widened if the model keeps it in 16 bits
        crvq_linear_dense_rows(L, 0, L->n_out, w);
        for (size_t i = 0; i < n; i++) r->W[i] = w[i];
        free(w);
    } else if (L->kind == CRVQ_LINEAR_SCALAR) {
        float *w = malloc(n * sizeof *w);
        crvq_scalar_dequant_rows(L->sq, 0, L->n_out, w);
        for (size_t i = 0; i < n; i++) r->W[i] = w[i];
        free(w);
    } else {
        const crvq_vq_weights *W = L->vq;
        // the runtime weights' own values (fp16-rounded), not the layer's
        for (int k = 0; k < W->M; k++) r->cb[k] = to_d(W->cb[k], ((size_t)1 << W->e[k]) * W->d);
        r->scales = to_d(W->scales, W->m_out);
        ref_lin_rebuild(r);
    }
}

static void ref_lin_free(ref_lin *r) {
    free(r->W), free(r->bias), free(r->scales);
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) free(r->cb[k]);
}

// y (n, n_out) = x Wᵀ + b
static void ref_lin_apply(const ref_lin *r, const double *x, int n, double *y) {
    const int ni = r->L->n_in, no = r->L->n_out;
    for (int t = 0; t < n; t++)
        for (int o = 0; o < no; o++) {
            double a = r->bias ? r->bias[o] : 0;
            for (int i = 0; i < ni; i++) a += r->W[(size_t)o * ni + i] * x[(size_t)t * ni + i];
            y[(size_t)t * no + o] = a;
        }
}

// ------------------------------------------------ norms, RoPE, attention ---

static void ref_rmsnorm(const double *x, const double *w, int n, double eps, double *out) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * x[i] * r;
}

static void ref_rope_row(double *v, int n_heads, int hd, const float *cs, const float *sn, int interleaved) {
    const int half = hd / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++) {
            double *p = v + h * hd;
            int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
            double x0 = p[a], x1 = p[b];
            p[a] = x0 * cs[i] - x1 * sn[i];
            p[b] = x0 * sn[i] + x1 * cs[i];
        }
}

// out (T, n_heads*hd) of causal GQA softmax attention in float64
static void ref_attention(const crvq_config *c, const double *q, const double *k, const double *v, int T,
                          double *out) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    double *s = malloc((size_t)T * sizeof *s);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < c->n_heads; h++) {
            const double *qh = q + t * qd + h * hd;
            const int ko = (h / group) * hd;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++) d += qh[i] * k[j * kvd + ko + i];
                s[j] = d / sqrt(hd);
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= t; j++) sum += (s[j] = exp(s[j] - mx));
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int j = 0; j <= t; j++) a += s[j] / sum * v[j * kvd + ko + i];
                out[t * qd + h * hd + i] = a;
            }
        }
    free(s);
}

// ------------------------------------------------------------ the block ---

// One block in float64: n_seq sequences of T tokens, each from position 0.
typedef struct ref_block {
    const crvq_config *c;
    int n_seq, T;
    ref_lin lin[CRVQ_PROJ_COUNT]; // q, k, v, o, gate, up, down
    double *attn_norm, *ffn_norm;
    double *q_norm, *k_norm; // (head_dim): RMSNorm of each q and k head before RoPE; NULL: none
    const float *cs, *sn; // the RoPE tables the float block uses (T, head_dim/2)
} ref_block;

// y (n_seq·T, dim) = block(x (n_seq·T, dim))
static void ref_block_forward(const ref_block *b, const double *x, double *y) {
    const crvq_config *c = b->c;
    const int T = b->T, N = b->n_seq * T, dim = c->dim, hid = c->hidden_dim, half = c->head_dim / 2;
    const int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    double *xn = calloc((size_t)N * dim, 8), *q = malloc((size_t)N * qd * 8), *k = malloc((size_t)N * kvd * 8);
    double *v = malloc((size_t)N * kvd * 8), *ao = malloc((size_t)N * qd * 8), *h = malloc((size_t)N * dim * 8);
    double *g = malloc((size_t)N * hid * 8), *u = malloc((size_t)N * hid * 8);
    for (int t = 0; t < N; t++) ref_rmsnorm(x + t * dim, b->attn_norm, dim, c->norm_eps, xn + t * dim);
    ref_lin_apply(&b->lin[0], xn, N, q);
    ref_lin_apply(&b->lin[1], xn, N, k);
    ref_lin_apply(&b->lin[2], xn, N, v);
    if (b->q_norm) { // in place: ref_rmsnorm reads each element before it writes it
        for (int r = 0; r < N * c->n_heads; r++)
            ref_rmsnorm(q + (size_t)r * c->head_dim, b->q_norm, c->head_dim, c->norm_eps, q + (size_t)r * c->head_dim);
        for (int r = 0; r < N * c->n_kv_heads; r++)
            ref_rmsnorm(k + (size_t)r * c->head_dim, b->k_norm, c->head_dim, c->norm_eps, k + (size_t)r * c->head_dim);
    }
    for (int t = 0; t < N; t++) {
        const int p = t % T;
        ref_rope_row(q + t * qd, c->n_heads, c->head_dim, b->cs + p * half, b->sn + p * half, c->rope_style);
        ref_rope_row(k + t * kvd, c->n_kv_heads, c->head_dim, b->cs + p * half, b->sn + p * half, c->rope_style);
    }
    for (int s = 0; s < b->n_seq; s++)
        ref_attention(c, q + s * T * qd, k + s * T * kvd, v + s * T * kvd, T, ao + s * T * qd);
    ref_lin_apply(&b->lin[3], ao, N, h);
    for (int i = 0; i < N * dim; i++) h[i] += x[i];
    for (int t = 0; t < N; t++) ref_rmsnorm(h + t * dim, b->ffn_norm, dim, c->norm_eps, xn + t * dim);
    ref_lin_apply(&b->lin[4], xn, N, g);
    ref_lin_apply(&b->lin[5], xn, N, u);
    for (int i = 0; i < N * hid; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
    ref_lin_apply(&b->lin[6], g, N, y);
    for (int i = 0; i < N * dim; i++) y[i] += h[i];
    free(xn), free(q), free(k), free(v), free(ao), free(h), free(g), free(u);
}

static inline void ref_block_rebuild(ref_block *b) {
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) ref_lin_rebuild(&b->lin[i]);
}

// ------------------------------------------------------------ the model ---

// RoPE tables (T, head_dim/2) from ref_freq, rounded to float as the block
// reads them; malloc'd.
static inline void ref_rope_tables(const crvq_config *c, int T, float **cs, float **sn) {
    const int half = c->head_dim / 2;
    *cs = malloc((size_t)T * half * sizeof **cs);
    *sn = malloc((size_t)T * half * sizeof **sn);
    for (int p = 0; p < T; p++)
        for (int i = 0; i < half; i++) {
            (*cs)[p * half + i] = (float)cos(p * ref_freq(c, i));
            (*sn)[p * half + i] = (float)sin(p * ref_freq(c, i));
        }
}

// logits (n, vocab) of model m on tokens tok[0..n-1] from position 0, in
// float64 from m's weights (compressed layers expanded).
static inline void ref_model_logits(const crvq_model *m, const int *tok, int n, double *logits) {
    const crvq_config *c = &m->cfg;
    const int dim = c->dim;
    double *x = malloc((size_t)n * dim * sizeof *x), *y = malloc((size_t)n * dim * sizeof *y);
    float *row = malloc((size_t)dim * sizeof *row);
    for (int t = 0; t < n; t++) {
        crvq_model_embed_row(m, tok[t], row);
        for (int i = 0; i < dim; i++) x[(size_t)t * dim + i] = row[i];
    }
    ref_block b = {.c = c, .n_seq = 1, .T = n};
    float *cs, *sn;
    ref_rope_tables(c, n, &cs, &sn);
    b.cs = cs, b.sn = sn;
    for (int l = 0; l < c->n_layers; l++) {
        const crvq_layer *L = &m->layers[l];
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) ref_lin_init(&b.lin[i], crvq_layer_proj(L, i));
        b.attn_norm = to_d(L->attn_norm, dim);
        b.ffn_norm = to_d(L->ffn_norm, dim);
        b.q_norm = L->q_norm ? to_d(L->q_norm, c->head_dim) : NULL;
        b.k_norm = L->k_norm ? to_d(L->k_norm, c->head_dim) : NULL;
        ref_block_forward(&b, x, y);
        double *s = x;
        x = y, y = s;
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) ref_lin_free(&b.lin[i]);
        free(b.attn_norm), free(b.ffn_norm), free(b.q_norm), free(b.k_norm);
    }
    double *w = to_d(m->out_norm, dim);
    for (int t = 0; t < n; t++) ref_rmsnorm(x + (size_t)t * dim, w, dim, c->norm_eps, y + (size_t)t * dim);
    ref_lin head;
    ref_lin_init(&head, &m->output);
    ref_lin_apply(&head, y, n, logits);
    ref_lin_free(&head);
    free(w), free(x), free(y), free(row), free(cs), free(sn);
}

#endif
