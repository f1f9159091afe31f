// test_block_grad.c — the hand-written backward passes (kernels/ops.c,
// model/attention.c, model/linear.c, train/block_grad.c) against central
// finite differences of float64 references written from the
// formulas (here and in ref_model.h): RMSNorm (input, weight), RoPE (both
// styles), SwiGLU, causal grouped-query attention, linear layers (dense,
// scalar, VQ and CRVQ with and without a permutation: input, codebooks,
// scales), and one whole block mixing every kind, both RoPE styles, with and
// without q/k/v biases.
// Loss = Σ R ∘ output for a random R, so the analytic gradient is the
// backward pass started from dL/doutput = R. Also: a VQ layer big enough to
// be expanded in two tiles against a direct float64 evaluation.
//
// Each line printed is max_i |analytic_i - numeric_i| / max_i |numeric_i|.
#include "check.h"
#include "crvq.h"
#include "kernels/ops.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/attention.h"
#include "model/forward.h"
#include "model/linear.h"
#include "quant/scalar.h"
#include "quant/vq_fit.h"
#include "quant/rng.h"
#include "ref_model.h"
#include "train/block_grad.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// float32 analytic gradients against float64 numeric ones: float rounding
// of the forward and backward gives ~1e-6; a wrong term gives O(1)
#define TOL 1e-3

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng_next(void) { return crvq_splitmix64(&rng_state); }
static double urand(void) { return (double)(rng_next() >> 11) * 0x1p-52 - 1.0; } // [-1, 1)
static float f16r(double v) { return crvq_f16_to_f32(crvq_f32_to_f16((float)v)); }

static float *rand_f(size_t n, double scale, double offset) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(offset + scale * urand());
    return v;
}
static double rel_err(const float *a, const double *num, size_t n) {
    double worst = 0.0, mag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - num[i]);
        if (!(e <= worst)) worst = e; // NaN propagates as a failure
        mag = fmax(mag, fabs(num[i]));
    }
    return worst / fmax(mag, 1e-30);
}

static void report(const char *what, double err) {
    printf("  %-40s %.2e\n", what, err);
    CHECK_MSG(err < TOL, "%s: relative error %g", what, err);
}

// Central differences of f over the n doubles at p (restored afterwards).
typedef double (*loss_fn)(void *ctx);
static void num_grad(loss_fn f, void *ctx, double *p, size_t n, void (*rebuild)(void *), double *out) {
    for (size_t i = 0; i < n; i++) {
        const double save = p[i], h = 1e-6 * fmax(1.0, fabs(save));
        const double up = save + h, dn = save - h;
        p[i] = up;
        if (rebuild) rebuild(ctx);
        const double lp = f(ctx);
        p[i] = dn;
        if (rebuild) rebuild(ctx);
        const double lm = f(ctx);
        p[i] = save;
        out[i] = (lp - lm) / (up - dn);
    }
    if (rebuild) rebuild(ctx);
}

// ------------------------------------------------------------- RMSNorm ---

typedef struct {
    int n, dim;
    double eps, *x, *w, *R;
} rms_ctx;

static double rms_loss(void *vc) {
    rms_ctx *c = vc;
    double L = 0;
    for (int t = 0; t < c->n; t++) {
        const double *x = c->x + t * c->dim;
        double ss = 0;
        for (int i = 0; i < c->dim; i++) ss += x[i] * x[i];
        double r = 1 / sqrt(ss / c->dim + c->eps);
        for (int i = 0; i < c->dim; i++) L += c->R[t * c->dim + i] * c->w[i] * x[i] * r;
    }
    return L;
}

static void test_rmsnorm(void) {
    const int n = 3, dim = 16;
    const float eps = 1e-5f;
    float *x = rand_f((size_t)n * dim, 1.0, 0.0), *w = rand_f(dim, 0.3, 1.0), *R = rand_f((size_t)n * dim, 1.0, 0.0);
    float *out = malloc((size_t)n * dim * sizeof *out), inv[3];
    float *dx = calloc((size_t)n * dim, sizeof *dx), *dw = calloc(dim, sizeof *dw);
    crvq_rmsnorm_rows(x, w, n, dim, eps, out, inv);
    crvq_rmsnorm_backward(x, w, inv, R, n, dim, dx, dw);
    rms_ctx c = {n, dim, eps, to_d(x, (size_t)n * dim), to_d(w, dim), to_d(R, (size_t)n * dim)};
    double *nx = malloc((size_t)n * dim * sizeof *nx), *nw = malloc(dim * sizeof *nw);
    num_grad(rms_loss, &c, c.x, (size_t)n * dim, NULL, nx);
    num_grad(rms_loss, &c, c.w, dim, NULL, nw);
    report("rmsnorm dL/dx", rel_err(dx, nx, (size_t)n * dim));
    report("rmsnorm dL/dw", rel_err(dw, nw, dim));
    free(x), free(w), free(R), free(out), free(dx), free(dw), free(c.x), free(c.w), free(c.R), free(nx), free(nw);
}

// ---------------------------------------------------------------- RoPE ---

typedef struct {
    int n_pos, n_heads, hd, interleaved;
    const float *cs, *sn;
    double *x, *R;
} rope_ctx;

static double rope_loss(void *vc) {
    rope_ctx *c = vc;
    const int half = c->hd / 2, row = c->n_heads * c->hd;
    double L = 0;
    for (int p = 0; p < c->n_pos; p++)
        for (int h = 0; h < c->n_heads; h++)
            for (int i = 0; i < half; i++) {
                int a = c->interleaved ? 2 * i : i, b = c->interleaved ? 2 * i + 1 : i + half;
                const double *v = c->x + p * row + h * c->hd, *r = c->R + p * row + h * c->hd;
                double co = c->cs[p * half + i], si = c->sn[p * half + i];
                L += r[a] * (v[a] * co - v[b] * si) + r[b] * (v[a] * si + v[b] * co);
            }
    return L;
}

static void test_rope(int interleaved) {
    crvq_config cfg = {.head_dim = 8, .rope_theta = 10000.0f, .rope_style = interleaved};
    const int n_pos = 5, n_heads = 2, hd = 8, row = n_heads * hd;
    float cs[5 * 4], sn[5 * 4];
    crvq_rope_tables(&cfg, n_pos, cs, sn);
    float *x = rand_f((size_t)n_pos * row, 1.0, 0.0), *R = rand_f((size_t)n_pos * row, 1.0, 0.0);
    float *dx = malloc((size_t)n_pos * row * sizeof *dx);
    memcpy(dx, R, (size_t)n_pos * row * sizeof *dx);
    for (int p = 0; p < n_pos; p++) crvq_rope_backward(dx + p * row, n_heads, hd, cs + p * 4, sn + p * 4, interleaved);
    rope_ctx c = {n_pos, n_heads, hd, interleaved, cs, sn, to_d(x, (size_t)n_pos * row), to_d(R, (size_t)n_pos * row)};
    double *nx = malloc((size_t)n_pos * row * sizeof *nx);
    num_grad(rope_loss, &c, c.x, (size_t)n_pos * row, NULL, nx);
    report(interleaved ? "rope (interleaved) dL/dx" : "rope (half) dL/dx", rel_err(dx, nx, (size_t)n_pos * row));
    // angle of position 3, pair 1: 3 · theta^(-2/8) (crvq_forward's agreement: test_block_ft)
    CHECK_NEAR(cs[3 * 4 + 1], cos(3 * pow(10000.0, -2.0 / 8)), 1e-6);
    CHECK_NEAR(sn[3 * 4 + 1], sin(3 * pow(10000.0, -2.0 / 8)), 1e-6);
    free(x), free(R), free(dx), free(c.x), free(c.R), free(nx);
}

// -------------------------------------------------------------- SwiGLU ---

typedef struct {
    int n;
    double *g, *u, *R;
} swi_ctx;

static double swi_loss(void *vc) {
    swi_ctx *c = vc;
    double L = 0;
    for (int i = 0; i < c->n; i++) L += c->R[i] * c->g[i] / (1 + exp(-c->g[i])) * c->u[i];
    return L;
}

static void test_swiglu(void) {
    const int n = 24;
    float *g = rand_f(n, 4.0, 0.0), *u = rand_f(n, 1.0, 0.0), *R = rand_f(n, 1.0, 0.0);
    float dg[24], du[24];
    crvq_swiglu_backward(g, u, R, dg, du, n);
    swi_ctx c = {n, to_d(g, n), to_d(u, n), to_d(R, n)};
    double ng[24], nu[24];
    num_grad(swi_loss, &c, c.g, n, NULL, ng);
    num_grad(swi_loss, &c, c.u, n, NULL, nu);
    report("swiglu dL/dgate", rel_err(dg, ng, n));
    report("swiglu dL/dup", rel_err(du, nu, n));
    // in place (dg aliasing da), as the block uses it
    float da[24];
    memcpy(da, R, sizeof da);
    crvq_swiglu_backward(g, u, da, da, du, n);
    CHECK(memcmp(da, dg, sizeof da) == 0);
    free(g), free(u), free(R), free(c.g), free(c.u), free(c.R);
}

// ----------------------------------------------------------- attention ---

typedef struct {
    const crvq_config *c;
    int T;
    double *q, *k, *v, *R, *out;
} att_ctx;

static double att_loss(void *vc) {
    att_ctx *a = vc;
    ref_attention(a->c, a->q, a->k, a->v, a->T, a->out);
    const int n = a->T * a->c->n_heads * a->c->head_dim;
    double L = 0;
    for (int i = 0; i < n; i++) L += a->R[i] * a->out[i];
    return L;
}

// crvq's attention forward and backward on random q, k, v and R (the
// loss's weights) for T tokens; their float64 copies in c, with the
// reference forward in c.out.
typedef struct {
    float *q, *k, *v, *R, *dq, *dk, *dv, *out, *scratch;
    att_ctx c;
} att_run;

static att_run att_setup(const crvq_config *cfg, int T) {
    const size_t qn = (size_t)T * cfg->n_heads * cfg->head_dim, kvn = (size_t)T * cfg->n_kv_heads * cfg->head_dim;
    att_run a;
    a.q = rand_f(qn, 1.5, 0.0);
    a.k = rand_f(kvn, 1.5, 0.0);
    a.v = rand_f(kvn, 1.0, 0.0);
    a.R = rand_f(qn, 1.0, 0.0);
    a.dq = malloc(qn * 4), a.dk = malloc(kvn * 4), a.dv = malloc(kvn * 4);
    a.out = malloc(qn * 4), a.scratch = malloc(crvq_attn_scratch(cfg, T) * sizeof(float));
    crvq_attn_forward(cfg, a.q, a.k, a.v, T, a.out, a.scratch);
    crvq_attn_backward(cfg, a.q, a.k, a.v, a.R, T, a.dq, a.dk, a.dv, a.scratch);
    a.c = (att_ctx){cfg, T, to_d(a.q, qn), to_d(a.k, kvn), to_d(a.v, kvn), to_d(a.R, qn), malloc(qn * sizeof(double))};
    ref_attention(cfg, a.c.q, a.c.k, a.c.v, T, a.c.out);
    return a;
}

static void att_free(att_run *a) {
    free(a->q), free(a->k), free(a->v), free(a->R), free(a->dq), free(a->dk), free(a->dv), free(a->out);
    free(a->scratch), free(a->c.q), free(a->c.k), free(a->c.v), free(a->c.R), free(a->c.out);
}

static void test_attention(int n_heads, int n_kv) {
    crvq_config cfg = {.n_heads = n_heads, .n_kv_heads = n_kv, .head_dim = 8};
    const int T = 5, qd = n_heads * 8, kvd = n_kv * 8;
    att_run a = att_setup(&cfg, T);
    att_ctx c = a.c;
    float *out = a.out, *dq = a.dq, *dk = a.dk, *dv = a.dv;
    CHECK(rel_err(out, c.out, (size_t)T * qd) < 1e-5); // the forward itself
    double *nq = malloc((size_t)T * qd * 8), *nk = malloc((size_t)T * kvd * 8), *nv = malloc((size_t)T * kvd * 8);
    num_grad(att_loss, &c, c.q, (size_t)T * qd, NULL, nq);
    num_grad(att_loss, &c, c.k, (size_t)T * kvd, NULL, nk);
    num_grad(att_loss, &c, c.v, (size_t)T * kvd, NULL, nv);
    char name[64];
    snprintf(name, sizeof name, "attention %d/%d heads dL/dq", n_heads, n_kv);
    report(name, rel_err(dq, nq, (size_t)T * qd));
    snprintf(name, sizeof name, "attention %d/%d heads dL/dk", n_heads, n_kv);
    report(name, rel_err(dk, nk, (size_t)T * kvd));
    snprintf(name, sizeof name, "attention %d/%d heads dL/dv", n_heads, n_kv);
    report(name, rel_err(dv, nv, (size_t)T * kvd));
    att_free(&a);
    free(nq), free(nk), free(nv);
}

// 2400 tokens, 3 heads: the scores of two heads fit the attention's chunk
// budget, so heads run as chunks of 2 and 1. Too large for a full
// finite-difference gradient: directional derivatives along random
// directions of q, k and v, against <analytic gradient, direction>.
static void test_attention_chunks(void) {
    crvq_config cfg = {.n_heads = 3, .n_kv_heads = 1, .head_dim = 8};
    const int T = 2400, qd = 24, kvd = 8;
    CHECK(crvq_attn_scratch(&cfg, T) == 2 * 2 * (size_t)T * T);
    att_run r = att_setup(&cfg, T);
    att_ctx c = r.c;
    const float *out = r.out, *dq = r.dq, *dk = r.dk, *dv = r.dv;
    report("attention 2400 tokens (head chunks) out", rel_err(out, c.out, (size_t)T * qd));
    struct { const char *name; double *p; const float *g; size_t n; } dirs[] = {
        {"attention 2400 tokens d/dq along u", c.q, dq, (size_t)T * qd},
        {"attention 2400 tokens d/dk along u", c.k, dk, (size_t)T * kvd},
        {"attention 2400 tokens d/dv along u", c.v, dv, (size_t)T * kvd},
    };
    for (int i = 0; i < 3; i++) {
        const size_t n = dirs[i].n;
        double *u = malloc(n * sizeof *u), *p0 = malloc(n * sizeof *p0), ana = 0;
        memcpy(p0, dirs[i].p, n * sizeof *p0);
        for (size_t j = 0; j < n; j++) ana += (u[j] = urand()) * dirs[i].g[j];
        const double h = 1e-5;
        for (size_t j = 0; j < n; j++) dirs[i].p[j] = p0[j] + h * u[j];
        const double lp = att_loss(&c);
        for (size_t j = 0; j < n; j++) dirs[i].p[j] = p0[j] - h * u[j];
        const double lm = att_loss(&c);
        memcpy(dirs[i].p, p0, n * sizeof *p0);
        const float a = (float)ana;
        const double num = (lp - lm) / (2 * h);
        report(dirs[i].name, rel_err(&a, &num, 1));
        free(u), free(p0);
    }
    att_free(&r);
}

// ------------------------------------------------------- linear layers ---

// A random VQ / CRVQ layer (fp16-exact codebooks and scales) as the
// quantizer holds it, and its runtime weights (stored by crvq_vq_emit).
static crvq_vq_weights *make_vq(int m, int n_in, int d, int M, const int *e, int n_crit, int permuted,
                                crvq_vq_fit *L) {
    memset(L, 0, sizeof *L);
    L->m_out = m, L->n_in = n_in, L->d = d, L->M = M, L->n_groups = n_in / d, L->n_crit = n_crit;
    for (int k = 0; k < M; k++) {
        L->e[k] = e[k];
        size_t nk = ((size_t)1 << e[k]) * d;
        L->codebooks[k] = malloc(nk * sizeof(float));
        for (size_t i = 0; i < nk; i++) L->codebooks[k][i] = f16r(urand() / (k + 1));
    }
    size_t n0 = (size_t)m * L->n_groups, nx = (size_t)m * n_crit * (M - 1);
    L->codes = malloc(n0 * 2);
    for (size_t i = 0; i < n0; i++) L->codes[i] = (uint16_t)(rng_next() & ((1u << e[0]) - 1));
    if (nx) {
        L->codes_ext = malloc(nx * 2);
        for (size_t i = 0; i < nx; i++) L->codes_ext[i] = (uint16_t)(rng_next() & ((1u << e[1 + i % (M - 1)]) - 1));
    }
    L->scales = malloc((size_t)m * sizeof(float));
    for (int r = 0; r < m; r++) L->scales[r] = f16r(0.25 * (1.5 + urand()) / sqrt(n_in / 16.0));
    if (permuted) {
        L->perm = malloc((size_t)n_in * sizeof(int32_t));
        for (int j = 0; j < n_in; j++) L->perm[j] = j;
        for (int j = n_in - 1; j > 0; j--) {
            int i = (int)(rng_next() % (uint64_t)(j + 1));
            int32_t t = L->perm[i];
            L->perm[i] = L->perm[j], L->perm[j] = t;
        }
    }
    crvq_vq_layer S;
    crvq_vq_weights *W = NULL;
    CHECK(crvq_vq_emit(L, &S) == CRVQ_OK);
    CHECK_MSG(crvq_vq_weights_from_layer(&S, "test", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (W) crvq_vq_weights_take(W, &S);
    crvq_vq_layer_free(&S);
    return W;
}

static void free_vq_layer(crvq_vq_fit *L) {
    for (int k = 0; k < L->M; k++) free(L->codebooks[k]);
    free(L->codes), free(L->codes_ext), free(L->scales), free(L->perm);
}

static crvq_scalar_weights *make_scalar(int m, int n_in) {
    crvq_scalar_fit L = {.m_out = m, .n_in = n_in, .bits = 3, .group_size = 8};
    const size_t ng = (size_t)m * n_in / 8;
    L.q = malloc((size_t)m * n_in);
    L.scale = malloc(ng * sizeof(float));
    L.zero = malloc(ng * sizeof(float));
    for (size_t i = 0; i < (size_t)m * n_in; i++) L.q[i] = (uint8_t)(rng_next() & 7);
    for (size_t i = 0; i < ng; i++) L.scale[i] = f16r(0.1 * (1.2 + urand()) / sqrt(n_in / 16.0)), L.zero[i] = 3.5f;
    crvq_scalar_layer S;
    crvq_scalar_weights *W = NULL;
    CHECK(crvq_scalar_emit(&L, &S) == CRVQ_OK);
    CHECK_MSG(crvq_scalar_weights_from_layer(&S, "test", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (W) crvq_scalar_weights_take(W, &S);
    crvq_scalar_layer_free(&S);
    free(L.q), free(L.scale), free(L.zero);
    return W;
}

typedef struct {
    ref_lin r;
    int n;
    double *x, *R, *y;
} lin_ctx;

static double lin_loss(void *vc) {
    lin_ctx *c = vc;
    ref_lin_apply(&c->r, c->x, c->n, c->y);
    double L = 0;
    for (size_t i = 0; i < (size_t)c->n * c->r.L->n_out; i++) L += c->R[i] * c->y[i];
    return L;
}
static void lin_rebuild(void *vc) { ref_lin_rebuild(&((lin_ctx *)vc)->r); }

static void check_linear(const char *name, const crvq_linear *L) {
    const int n = 3, ni = L->n_in, no = L->n_out;
    float *x = rand_f((size_t)n * ni, 1.0, 0.0), *R = rand_f((size_t)n * no, 1.0, 0.0);
    float *dx = malloc((size_t)n * ni * sizeof *dx);
    float *scratch = malloc((crvq_linear_train_scratch(L) + 1) * sizeof(float));
    crvq_linear_grad g = {0}, *gp = NULL;
    const crvq_vq_weights *W = L->kind == CRVQ_LINEAR_VQ ? L->vq : NULL;
    if (W) {
        for (int k = 0; k < W->M; k++) g.cb[k] = calloc(((size_t)1 << W->e[k]) * W->d, sizeof(float));
        g.scales = calloc(W->m_out, sizeof(float));
        gp = &g;
    }
    crvq_linear_backward(L, x, R, n, dx, 0, gp, scratch);

    lin_ctx c = {.n = n, .x = to_d(x, (size_t)n * ni), .R = to_d(R, (size_t)n * no),
                 .y = malloc((size_t)n * no * sizeof(double))};
    ref_lin_init(&c.r, L);
    // the training forward against the reference
    float *y = malloc((size_t)n * no * sizeof *y);
    crvq_linear_forward_train(L, x, n, y, scratch);
    ref_lin_apply(&c.r, c.x, n, c.y);
    CHECK_MSG(rel_err(y, c.y, (size_t)n * no) < 1e-5, "%s: training forward", name);
    free(y);
    double *num = malloc((size_t)n * ni * sizeof *num);
    char what[96];
    num_grad(lin_loss, &c, c.x, (size_t)n * ni, NULL, num);
    snprintf(what, sizeof what, "%s dL/dx", name);
    report(what, rel_err(dx, num, (size_t)n * ni));
    if (W) {
        for (int k = 0; k < W->M; k++) {
            const size_t nk = ((size_t)1 << W->e[k]) * W->d;
            double *nc = malloc(nk * sizeof *nc);
            num_grad(lin_loss, &c, c.r.cb[k], nk, lin_rebuild, nc);
            snprintf(what, sizeof what, "%s dL/dC%d", name, k);
            report(what, rel_err(g.cb[k], nc, nk));
            free(nc);
        }
        double *ns = malloc(W->m_out * sizeof *ns);
        num_grad(lin_loss, &c, c.r.scales, W->m_out, lin_rebuild, ns);
        snprintf(what, sizeof what, "%s dL/ds", name);
        report(what, rel_err(g.scales, ns, W->m_out));
        free(ns);
    }
    // accumulate = 1 adds to dx (and gradients always accumulate)
    float *dx2 = malloc((size_t)n * ni * sizeof *dx2);
    memcpy(dx2, dx, (size_t)n * ni * sizeof *dx2);
    const float s0 = W ? g.scales[0] : 0.0f;
    crvq_linear_backward(L, x, R, n, dx2, 1, gp, scratch);
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * ni; i++) worst = fmax(worst, fabs(dx2[i] - 2 * dx[i]));
    CHECK_MSG(worst < 1e-5, "%s: accumulate", name);
    if (W) CHECK(fabsf(g.scales[0] - 2 * s0) <= 1e-5f * fabsf(s0) + 1e-7f);

    free(x), free(R), free(dx), free(dx2), free(scratch), free(num), free(c.x), free(c.R), free(c.y);
    ref_lin_free(&c.r);
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) free(g.cb[k]);
    free(g.scales);
}

static void test_linears(void) {
    const int e2[2] = {3, 3}, e1[1] = {3}, e3[3] = {3, 2, 4};
    // dense
    crvq_linear D = {.kind = CRVQ_LINEAR_DENSE, .n_out = 12, .n_in = 16};
    D.w = rand_f(12 * 16, 0.5, 0.0);
    check_linear("dense", &D);
    free((void *)D.w);
    // scalar
    crvq_linear S = {.kind = CRVQ_LINEAR_SCALAR, .n_out = 12, .n_in = 16, .sq = make_scalar(12, 16)};
    S.bias = rand_f(12, 0.3, 0.0);
    check_linear("scalar (rtn/gptq), bias", &S);
    crvq_scalar_weights_free((crvq_scalar_weights *)S.sq);
    free((void *)S.bias);
    // VQ shapes: CRVQ with a permutation, VQ (all critical), one codebook, three codebooks
    struct { const char *name; int m, n_in, M, n_crit, perm; const int *e; } vs[] = {
        {"crvq M=2 n_crit=1 permuted", 12, 16, 2, 1, 1, e2},
        {"vq M=2 all critical", 12, 16, 2, 4, 0, e2},
        {"vq M=1", 8, 16, 1, 4, 0, e1},
        {"crvq M=3 e=3,2,4 n_crit=2 perm", 10, 24, 3, 2, 1, e3},
    };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        crvq_vq_fit vl;
        crvq_vq_weights *W = make_vq(vs[i].m, vs[i].n_in, 4, vs[i].M, vs[i].e, vs[i].n_crit, vs[i].perm, &vl);
        crvq_linear L = {.kind = CRVQ_LINEAR_VQ, .n_out = vs[i].m, .n_in = vs[i].n_in, .vq = W};
        check_linear(vs[i].name, &L);
        crvq_vq_weights_free(W);
        free_vq_layer(&vl);
    }
}

// A layer of 1030 x 4096 is expanded in two tiles (1024 rows, then 6): the
// tile seams against direct float64 sums (no finite differences at this size).
static void test_linear_tiles(void) {
    const int m = 1030, ni = 4096, n = 3, e[2] = {4, 3};
    crvq_vq_fit vl;
    crvq_vq_weights *W = make_vq(m, ni, 8, 2, e, 10, 1, &vl);
    crvq_linear L = {.kind = CRVQ_LINEAR_VQ, .n_out = m, .n_in = ni, .vq = W};
    float *x = rand_f((size_t)n * ni, 1.0, 0.0), *R = rand_f((size_t)n * m, 1.0, 0.0);
    float *dx = malloc((size_t)n * ni * sizeof *dx), *scratch = malloc(crvq_linear_train_scratch(&L) * sizeof(float));
    crvq_linear_grad g = {.cb = {calloc(16 * 8, 4), calloc(8 * 8, 4)}, .scales = calloc(m, 4)};
    crvq_linear_backward(&L, x, R, n, dx, 0, &g, scratch);

    ref_lin r;
    ref_lin_init(&r, &L);
    float *y = malloc((size_t)n * m * sizeof *y);
    double *ny = malloc((size_t)n * m * sizeof *ny), *xd = to_d(x, (size_t)n * ni);
    crvq_linear_forward_train(&L, x, n, y, scratch);
    ref_lin_apply(&r, xd, n, ny);
    report("vq 1030x4096 (two tiles) forward", rel_err(y, ny, (size_t)n * m));
    free(y), free(ny), free(xd);
    double *ndx = calloc((size_t)n * ni, 8), *nc0 = calloc(16 * 8, 8), *nc1 = calloc(8 * 8, 8), *ns = calloc(m, 8);
    double *dwp = malloc(ni * sizeof *dwp); // one row of dŴ, permuted order
    for (int o = 0; o < m; o++) {
        for (int t = 0; t < n; t++)
            for (int j = 0; j < ni; j++) ndx[(size_t)t * ni + j] += (double)R[(size_t)t * m + o] * r.W[(size_t)o * ni + j];
        for (int j = 0; j < ni; j++) {
            double s = 0;
            for (int t = 0; t < n; t++) s += (double)R[(size_t)t * m + o] * x[(size_t)t * ni + vl.perm[j]];
            dwp[j] = s;
        }
        for (int gi = 0; gi < vl.n_groups; gi++)
            for (int j = 0; j < 8; j++) {
                const double v = dwp[gi * 8 + j];
                const int c0 = vl.codes[(size_t)o * vl.n_groups + gi];
                nc0[c0 * 8 + j] += r.scales[o] * v;
                double u = r.cb[0][c0 * 8 + j];
                if (gi < vl.n_crit) {
                    const int c1 = vl.codes_ext[(size_t)o * vl.n_crit + gi];
                    nc1[c1 * 8 + j] += r.scales[o] * v;
                    u += r.cb[1][c1 * 8 + j];
                }
                ns[o] += v * u;
            }
    }
    report("vq 1030x4096 (two tiles) dL/dx", rel_err(dx, ndx, (size_t)n * ni));
    report("vq 1030x4096 (two tiles) dL/dC0", rel_err(g.cb[0], nc0, 16 * 8));
    report("vq 1030x4096 (two tiles) dL/dC1", rel_err(g.cb[1], nc1, 8 * 8));
    report("vq 1030x4096 (two tiles) dL/ds", rel_err(g.scales, ns, m));
    free(x), free(R), free(dx), free(scratch), free(g.cb[0]), free(g.cb[1]), free(g.scales);
    free(ndx), free(nc0), free(nc1), free(ns), free(dwp);
    ref_lin_free(&r);
    crvq_vq_weights_free(W);
    free_vq_layer(&vl);
}

// ------------------------------------------------------------ the block ---

typedef struct {
    ref_block b;
    double *x, *R, *y;
} blk_ctx;

static double blk_loss(void *vc) {
    blk_ctx *b = vc;
    ref_block_forward(&b->b, b->x, b->y);
    double L = 0;
    for (int i = 0; i < b->b.n_seq * b->b.T * b->b.c->dim; i++) L += b->R[i] * b->y[i];
    return L;
}

static void blk_rebuild(void *vc) { ref_block_rebuild(&((blk_ctx *)vc)->b); }

// qk: Qwen3's q/k norms (frozen in fine-tuning: only what flows through them is checked)
static void test_block(crvq_rope_style style, int bias, int qk) {
    crvq_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .head_dim = 8,
                     .vocab_size = 8, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = style, .qkv_bias = bias,
                     .qk_norm = qk};
    const int n_seq = 2, T = 5, N = n_seq * T, dim = 16;
    const int e2[2] = {3, 3}, e1[1] = {3};
    // q: CRVQ (permuted), k: VQ M=1, v: dense, o: CRVQ, gate: CRVQ, up: scalar, down: CRVQ
    crvq_vq_fit vl[CRVQ_PROJ_COUNT];
    int is_vq[CRVQ_PROJ_COUNT] = {1, 1, 0, 1, 1, 0, 1};
    crvq_layer L = {0};
    L.attn_norm = rand_f(dim, 0.3, 1.0);
    L.ffn_norm = rand_f(dim, 0.3, 1.0);
    L.wq = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = 16, .n_in = 16, .vq = make_vq(16, 16, 4, 2, e2, 1, 1, &vl[0])};
    L.wk = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = 8, .n_in = 16, .vq = make_vq(8, 16, 4, 1, e1, 4, 0, &vl[1])};
    L.wv = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = 8, .n_in = 16, .w = rand_f(8 * 16, 0.4, 0.0)};
    L.wo = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = 16, .n_in = 16, .vq = make_vq(16, 16, 4, 2, e2, 1, 1, &vl[3])};
    L.w_gate = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = 24, .n_in = 16, .vq = make_vq(24, 16, 4, 2, e2, 1, 1, &vl[4])};
    L.w_up = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = 24, .n_in = 16, .sq = make_scalar(24, 16)};
    L.w_down = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = 16, .n_in = 24, .vq = make_vq(16, 24, 4, 2, e2, 1, 1, &vl[6])};
    if (bias) {
        L.wq.bias = rand_f(16, 0.3, 0.0);
        L.wk.bias = rand_f(8, 0.3, 0.0);
        L.wv.bias = rand_f(8, 0.3, 0.0);
    }
    if (qk) L.q_norm = rand_f(8, 0.3, 1.0), L.k_norm = rand_f(8, 0.3, 1.0);

    float *x = rand_f((size_t)N * dim, 1.0, 0.0), *R = rand_f((size_t)N * dim, 1.0, 0.0);
    float *y = malloc((size_t)N * dim * 4), *dx = malloc((size_t)N * dim * 4);
    crvq_ft_grad g = {.attn_norm = calloc(dim, 4), .ffn_norm = calloc(dim, 4)};
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!is_vq[i]) continue;
        const crvq_vq_weights *W = crvq_block_proj(&L, i)->vq;
        for (int k = 0; k < W->M; k++) g.lin[i].cb[k] = calloc(((size_t)1 << W->e[k]) * W->d, 4);
        g.lin[i].scales = calloc(W->m_out, 4);
    }
    crvq_ft_ws *ws = NULL;
    CHECK_MSG(crvq_ft_ws_init(&c, &L, n_seq, T, &ws) == CRVQ_OK, "%s", crvq_last_error());
    crvq_ft_forward(&c, &L, ws, x, n_seq, y);
    crvq_ft_backward(&c, &L, ws, R, &g, dx);

    float cs[5 * 4], sn[5 * 4];
    crvq_rope_tables(&c, T, cs, sn);
    blk_ctx b = {.b = {.c = &c, .n_seq = n_seq, .T = T, .attn_norm = to_d(L.attn_norm, dim),
                       .ffn_norm = to_d(L.ffn_norm, dim), .q_norm = qk ? to_d(L.q_norm, 8) : NULL,
                       .k_norm = qk ? to_d(L.k_norm, 8) : NULL, .cs = cs, .sn = sn},
                 .x = to_d(x, (size_t)N * dim), .R = to_d(R, (size_t)N * dim), .y = malloc((size_t)N * dim * 8)};
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) ref_lin_init(&b.b.lin[i], crvq_block_proj(&L, i));
    ref_block_forward(&b.b, b.x, b.y);
    CHECK_MSG(rel_err(y, b.y, (size_t)N * dim) < 1e-5, "block forward against float64");

    static const char *lname[] = {"q", "k", "v", "o", "gate", "up", "down"};
    const char *sname = style == CRVQ_ROPE_INTERLEAVED ? "interleaved" : "half";
    char what[96];
    double *num = malloc((size_t)N * dim * 8);
    num_grad(blk_loss, &b, b.x, (size_t)N * dim, NULL, num);
    snprintf(what, sizeof what, "block (%s%s) dL/dx", sname, bias ? ", bias" : qk ? ", q/k norm" : "");
    report(what, rel_err(dx, num, (size_t)N * dim));
    num_grad(blk_loss, &b, b.b.attn_norm, dim, NULL, num);
    snprintf(what, sizeof what, "block (%s%s) dL/d attn_norm", sname, bias ? ", bias" : qk ? ", q/k norm" : "");
    report(what, rel_err(g.attn_norm, num, dim));
    num_grad(blk_loss, &b, b.b.ffn_norm, dim, NULL, num);
    snprintf(what, sizeof what, "block (%s%s) dL/d ffn_norm", sname, bias ? ", bias" : qk ? ", q/k norm" : "");
    report(what, rel_err(g.ffn_norm, num, dim));
    double worst_cb = 0, worst_s = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!is_vq[i]) continue;
        const crvq_vq_weights *W = crvq_block_proj(&L, i)->vq;
        for (int k = 0; k < W->M; k++) {
            const size_t nk = ((size_t)1 << W->e[k]) * W->d;
            double *nc = malloc(nk * 8);
            num_grad(blk_loss, &b, b.b.lin[i].cb[k], nk, blk_rebuild, nc);
            double e = rel_err(g.lin[i].cb[k], nc, nk);
            CHECK_MSG(e < TOL, "block %s C%d: %g", lname[i], k, e);
            worst_cb = fmax(worst_cb, e);
            free(nc);
        }
        double *ns = malloc(W->m_out * 8);
        num_grad(blk_loss, &b, b.b.lin[i].scales, W->m_out, blk_rebuild, ns);
        double e = rel_err(g.lin[i].scales, ns, W->m_out);
        CHECK_MSG(e < TOL, "block %s scales: %g", lname[i], e);
        worst_s = fmax(worst_s, e);
        free(ns);
    }
    snprintf(what, sizeof what, "block (%s%s) dL/dC (worst layer)", sname, bias ? ", bias" : qk ? ", q/k norm" : "");
    report(what, worst_cb);
    snprintf(what, sizeof what, "block (%s%s) dL/ds (worst layer)", sname, bias ? ", bias" : qk ? ", q/k norm" : "");
    report(what, worst_s);

    // without a gradient struct and without dx: the same forward, nothing written
    crvq_ft_backward(&c, &L, ws, R, NULL, NULL);

    crvq_ft_ws_free(ws);
    free(x), free(R), free(y), free(dx), free(num), free(b.b.attn_norm), free(b.b.ffn_norm), free(b.x), free(b.R), free(b.y);
    free(g.attn_norm), free(g.ffn_norm);
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        ref_lin_free(&b.b.lin[i]);
        for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) free(g.lin[i].cb[k]);
        free(g.lin[i].scales);
        crvq_linear *lin = crvq_block_proj(&L, i);
        free((void *)lin->bias);
        if (lin->kind == CRVQ_LINEAR_VQ) {
            crvq_vq_weights_free((crvq_vq_weights *)lin->vq);
            free_vq_layer(&vl[i]);
        } else if (lin->kind == CRVQ_LINEAR_SCALAR) {
            crvq_scalar_weights_free((crvq_scalar_weights *)lin->sq);
        } else {
            free((void *)lin->w);
        }
    }
    free((void *)L.attn_norm), free((void *)L.ffn_norm), free((void *)L.q_norm), free((void *)L.k_norm);
    free(b.b.q_norm), free(b.b.k_norm);
}

int main(void) {
    printf("max |analytic - numeric| / max |numeric|:\n");
    test_rmsnorm();
    test_rope(0);
    test_rope(1);
    test_swiglu();
    test_attention(2, 1);
    test_attention(4, 2);
    test_attention_chunks();
    test_linears();
    test_linear_tiles();
    test_block(CRVQ_ROPE_HALF, 0, 0);
    test_block(CRVQ_ROPE_INTERLEAVED, 1, 0);
    test_block(CRVQ_ROPE_HALF, 0, 1);
    return check_done();
}
