// test_forward.c — crvq_forward on tiny random models against a naive
// float64 implementation written here from the formulas (full causal
// attention recomputed from scratch, no cache): both RoPE styles, q/k/v
// biases, linear and llama3 RoPE scaling, head_dim != dim/n_heads, tied
// embeddings; batched prefill, token-by-token decode, mixed chunks and
// last-row-only logits must all agree; attention tiling for long states;
// block-by-block runs with taps (the quantization pipeline's path).
#include "check.h"
#include "crvq.h"
#include "model/block_proj.h"
#include "model/forward.h"
#include "tiny_model.h"
#include "ref_rope.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------- float64 reference ---

// y (n_out) = W x + b
static void ref_linear(const crvq_linear *L, const double *x, double *y) {
    for (int o = 0; o < L->n_out; o++) {
        double acc = L->bias ? L->bias[o] : 0.0;
        for (int i = 0; i < L->n_in; i++) acc += (double)L->w[(size_t)o * L->n_in + i] * x[i];
        y[o] = acc;
    }
}

static void ref_rmsnorm(const double *x, const float *w, int n, double eps, double *out) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

// Rotate one head vector v (hd) for position p.
static void ref_rope(const crvq_config *c, double *v, int p) {
    int hd = c->head_dim;
    double out[256];
    if (c->rope_style == CRVQ_ROPE_HALF) {
        // HF: v*cos + rotate_half(v)*sin, cos/sin repeated over both halves
        for (int j = 0; j < hd; j++) {
            int i = j % (hd / 2);
            double a = p * ref_freq(c, i);
            double rot = j < hd / 2 ? -v[j + hd / 2] : v[j - hd / 2];
            out[j] = v[j] * cos(a) + rot * sin(a);
        }
    } else {
        // llama2.c: consecutive pairs as complex numbers times e^{ia}
        for (int j = 0; j < hd; j += 2) {
            double a = p * ref_freq(c, j / 2);
            out[j] = v[j] * cos(a) - v[j + 1] * sin(a);
            out[j + 1] = v[j] * sin(a) + v[j + 1] * cos(a);
        }
    }
    memcpy(v, out, hd * sizeof *v);
}

// logits (n, vocab) of the whole sequence, every position, from scratch
static double *ref_forward(const crvq_model *m, const int *tok, int n) {
    const crvq_config *c = &m->cfg;
    int dim = c->dim, hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads;
    double *x = calloc((size_t)n * dim, sizeof *x);
    double *xn = malloc(dim * sizeof *xn);
    double *q = malloc((size_t)n * q_dim * sizeof *q);
    double *k = malloc((size_t)n * kv_dim * sizeof *k);
    double *v = malloc((size_t)n * kv_dim * sizeof *v);
    double *att = malloc(q_dim * sizeof *att);
    double *o = malloc(dim * sizeof *o);
    double *g = malloc(c->hidden_dim * sizeof *g);
    double *u = malloc(c->hidden_dim * sizeof *u);
    double *w = malloc(n * sizeof *w);
    double *logits = malloc((size_t)n * c->vocab_size * sizeof *logits);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < dim; i++) x[t * dim + i] = m->tok_embd[(size_t)tok[t] * dim + i];
    for (int l = 0; l < c->n_layers; l++) {
        const crvq_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(x + t * dim, L->attn_norm, dim, c->norm_eps, xn);
            ref_linear(&L->wq, xn, q + t * q_dim);
            ref_linear(&L->wk, xn, k + t * kv_dim);
            ref_linear(&L->wv, xn, v + t * kv_dim);
            for (int h = 0; h < c->n_heads; h++) ref_rope(c, q + t * q_dim + h * hd, t);
            for (int h = 0; h < c->n_kv_heads; h++) ref_rope(c, k + t * kv_dim + h * hd, t);
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < c->n_heads; h++) {
                const double *qh = q + t * q_dim + h * hd;
                int kvh = h / group;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += qh[i] * k[s * kv_dim + kvh * hd + i];
                    w[s] = d / sqrt(hd);
                    mx = fmax(mx, w[s]);
                }
                for (int s = 0; s <= t; s++) sum += (w[s] = exp(w[s] - mx));
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++) a += w[s] / sum * v[s * kv_dim + kvh * hd + i];
                    att[h * hd + i] = a;
                }
            }
            ref_linear(&L->wo, att, o);
            for (int i = 0; i < dim; i++) x[t * dim + i] += o[i];
        }
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(x + t * dim, L->ffn_norm, dim, c->norm_eps, xn);
            ref_linear(&L->w_gate, xn, g);
            ref_linear(&L->w_up, xn, u);
            for (int i = 0; i < c->hidden_dim; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_linear(&L->w_down, g, o);
            for (int i = 0; i < dim; i++) x[t * dim + i] += o[i];
        }
    }
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(x + t * dim, m->out_norm, dim, c->norm_eps, xn);
        ref_linear(&m->output, xn, logits + (size_t)t * c->vocab_size);
    }
    free(x), free(xn), free(q), free(k), free(v), free(att), free(o), free(g), free(u), free(w);
    return logits;
}

// ------------------------------------------------------------- checks ---

// max |a - b| / max(1, |b|) over n values
static double max_rel_err(const float *a, const double *b, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i]) / fmax(1.0, fabs(b[i])));
    return e;
}

static void check_model(const char *name, const crvq_config *cfg, int n, int max_seq) {
    crvq_model *m = tiny_model(cfg);
    int V = cfg->vocab_size;
    int *tok = malloc(n * sizeof *tok);
    for (int t = 0; t < n; t++) tok[t] = (int)((urand() + 1.0) * 0.5 * V) % V;
    double *ref = ref_forward(m, tok, n);
    float *logits = malloc((size_t)n * V * sizeof *logits);
    float *last = malloc(V * sizeof *last);
    const double tol = 1e-4;

    // batched prefill, logits for every row
    crvq_state *s = NULL;
    CHECK(crvq_state_init(m, max_seq, n, &s) == CRVQ_OK);
    CHECK(crvq_forward(m, s, tok, n, 0, 1, logits) == CRVQ_OK);
    double e = max_rel_err(logits, ref, (size_t)n * V);
    CHECK_MSG(e < tol, "%s: batched prefill vs float64 reference: max rel err %.3g", name, e);

    // last row only
    CHECK(crvq_forward(m, s, tok, n, 0, 0, last) == CRVQ_OK);
    e = max_rel_err(last, ref + (size_t)(n - 1) * V, V);
    CHECK_MSG(e < tol, "%s: last-row logits: max rel err %.3g", name, e);
    // The last row alone goes through other products than in the batch:
    // float32 roundings of a few ulps of each logit (observed <= 6e-7 of it
    // under every OpenBLAS kernel), so relative to the logit; an absolute
    // bound is spent by a large one (Haswell's kernels: 4 ulps of 13.3 = 3.8e-6).
    double d = 0;
    for (int i = 0; i < V; i++) {
        const double all = logits[(size_t)(n - 1) * V + i];
        d = fmax(d, fabs(last[i] - all) / fmax(1.0, fabs(all)));
    }
    CHECK_MSG(d < 1e-5, "%s: last-row logits differ from the all-rows ones by %.3g (relative)", name, d);

    // token by token through the cache (decode path)
    e = 0;
    for (int t = 0; t < n; t++) {
        CHECK(crvq_forward(m, s, tok + t, 1, t, 0, last) == CRVQ_OK);
        e = fmax(e, max_rel_err(last, ref + (size_t)t * V, V));
    }
    CHECK_MSG(e < tol, "%s: token-by-token decode: max rel err %.3g", name, e);

    // uneven chunks continuing the cache: 1, then 3, then the rest
    int cuts[] = {0, 1, 4, n};
    e = 0;
    for (int i = 0; i < 3; i++) {
        int len = cuts[i + 1] - cuts[i];
        CHECK(crvq_forward(m, s, tok + cuts[i], len, cuts[i], 1, logits) == CRVQ_OK);
        e = fmax(e, max_rel_err(logits, ref + (size_t)cuts[i] * V, (size_t)len * V));
    }
    CHECK_MSG(e < tol, "%s: chunked prefill: max rel err %.3g", name, e);

    crvq_state_free(s);
    free(tok), free(ref), free(logits), free(last);
    free_tiny_model(m);
}

static crvq_config base_config(void) {
    return (crvq_config){
        .arch = CRVQ_ARCH_LLAMA, .dim = 32, .hidden_dim = 48, .n_layers = 2, .n_heads = 4,
        .n_kv_heads = 2, .head_dim = 8, .vocab_size = 50, .max_seq_len = 64, .norm_eps = 1e-5f,
        .rope_theta = 10000.0f, .rope_style = CRVQ_ROPE_HALF, .bos_id = 1, .eos_id = 2,
    };
}

// What the taps of crvq_block_forward saw.
typedef struct taps {
    int calls[CRVQ_N_TAPS], width[CRVQ_N_TAPS], rows_ok;
    int n;
    double attn_in0[32]; // first row of the first ATTN_IN tap
} taps;

static void tap_fn(void *ctx, int tap, const float *x, int n, int width) {
    taps *t = ctx;
    if (tap == CRVQ_TAP_ATTN_IN && t->calls[tap] == 0)
        for (int i = 0; i < width && i < 32; i++) t->attn_in0[i] = x[i];
    t->calls[tap]++;
    t->width[tap] = width;
    t->rows_ok &= n == t->n;
}

// The model block by block through crvq_block_forward (the quantization
// pipeline's path) gives the reference logits; the taps see every block's
// four linear-layer inputs with the right widths.
static void check_blocks(void) {
    crvq_config cfg = base_config();
    cfg.head_dim = 16; // tap widths: q_dim 64 differs from dim 32
    crvq_model *m = tiny_model(&cfg);
    enum { n = 9 };
    int tok[n] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    double *ref = ref_forward(m, tok, n);
    crvq_state *s = NULL;
    CHECK(crvq_state_init(m, 16, n, &s) == CRVQ_OK);
    float *x = crvq_state_residual(s); // (n, dim)
    for (int r = 0; r < n; r++)
        for (int i = 0; i < cfg.dim; i++) x[r * cfg.dim + i] = m->tok_embd[tok[r] * cfg.dim + i];
    taps t = {.rows_ok = 1, .n = n};
    for (int l = 0; l < cfg.n_layers; l++) crvq_block_forward(m, s, l, n, 0, tap_fn, &t);
    for (int k = 0; k < CRVQ_N_TAPS; k++) CHECK(t.calls[k] == cfg.n_layers);
    CHECK(t.rows_ok);
    CHECK(t.width[CRVQ_TAP_ATTN_IN] == 32 && t.width[CRVQ_TAP_ATTN_OUT] == 64);
    CHECK(t.width[CRVQ_TAP_FFN_IN] == 32 && t.width[CRVQ_TAP_FFN_ACT] == 48);
    // layer 0's attention input is the normed embedding of the first token
    double e[32], normed[32];
    for (int i = 0; i < 32; i++) e[i] = m->tok_embd[tok[0] * cfg.dim + i];
    ref_rmsnorm(e, m->layers[0].attn_norm, 32, cfg.norm_eps, normed);
    double err = 0;
    for (int i = 0; i < 32; i++) err = fmax(err, fabs(t.attn_in0[i] - normed[i]));
    CHECK_MSG(err < 1e-5, "first attention tap off by %.3g", err);
    // final norm and head on the blocks' output
    double xd[32], logit[50];
    err = 0;
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < 32; i++) xd[i] = x[r * cfg.dim + i];
        ref_rmsnorm(xd, m->out_norm, 32, cfg.norm_eps, normed);
        ref_linear(&m->output, normed, logit);
        for (int v = 0; v < 50; v++)
            err = fmax(err, fabs(logit[v] - ref[r * 50 + v]) / fmax(1.0, fabs(ref[r * 50 + v])));
    }
    CHECK_MSG(err < 1e-4, "block by block vs reference: max rel err %.3g", err);
    crvq_state_free(s);
    free(ref);
    free_tiny_model(m);
}

static void check_errors(void) {
    crvq_config cfg = base_config();
    crvq_model *m = tiny_model(&cfg);
    crvq_state *s = NULL;
    CHECK(crvq_state_init(m, 8, 9, &s) == CRVQ_ERR_INVALID && s == NULL);
    CHECK(crvq_state_init(m, 8, 4, &s) == CRVQ_OK);
    int tok[5] = {1, 2, 3, 4, 5};
    float logits[50];
    CHECK(crvq_forward(m, s, tok, 5, 0, 0, logits) == CRVQ_ERR_INVALID); // batch > max_batch
    CHECK(crvq_forward(m, s, tok, 4, 5, 0, logits) == CRVQ_ERR_INVALID); // past the cache
    CHECK(strstr(crvq_last_error(), "positions") != NULL);
    tok[1] = 50;
    CHECK(crvq_forward(m, s, tok, 2, 0, 0, logits) == CRVQ_ERR_INVALID); // token out of range
    CHECK(crvq_forward(m, s, tok, 1, 7, 0, logits) == CRVQ_OK);          // the last position
    crvq_state_free(s);
    m->cfg.n_kv_heads = 3;
    CHECK(crvq_state_init(m, 8, 4, &s) == CRVQ_ERR_INVALID);
    m->cfg.n_kv_heads = 2;
    free_tiny_model(m);
}

int main(void) {
    crvq_config c = base_config();
    check_model("half", &c, 12, 16);

    c = base_config();
    c.rope_style = CRVQ_ROPE_INTERLEAVED;
    c.tied_embeddings = 1;
    check_model("interleaved+tied", &c, 12, 16);

    // llama3 scaling: with head_dim 8 and theta 1e4 the wavelengths are
    // 6.3, 63, 628, 6283; original 64 / low 1 / high 4 puts one pair above
    // the high-frequency cut (kept), one in the smoothed band, two below the
    // low cut (divided by the factor)
    c = base_config();
    c.arch = CRVQ_ARCH_QWEN2;
    c.qkv_bias = 1;
    c.rope_style = CRVQ_ROPE_INTERLEAVED;
    c.rope_scaling = CRVQ_ROPE_SCALING_LLAMA3;
    c.rope_factor = 8.0f;
    c.rope_low_freq_factor = 1.0f;
    c.rope_high_freq_factor = 4.0f;
    c.rope_original_max_pos = 64;
    check_model("bias+llama3", &c, 20, 32);

    c = base_config();
    c.qkv_bias = 1;
    c.rope_scaling = CRVQ_ROPE_SCALING_LINEAR;
    c.rope_factor = 4.0f;
    c.rope_theta = 500.0f;
    c.head_dim = 16; // q_dim 64 != dim 32
    c.n_kv_heads = 1;
    check_model("linear+wide-heads+mqa", &c, 10, 10);

    // a long state: the scores budget allows only 64 query rows per
    // attention tile, so a 100-token prefill runs in two tiles
    c = base_config();
    check_model("tiled", &c, 100, 1 << 16);

    check_blocks();
    check_errors();
    return check_done();
}
