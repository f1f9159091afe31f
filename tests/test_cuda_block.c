// test_cuda_block.c — the GPU block forward (backend.h's block_forward,
// src/cuda/cuda_block.c) against the CPU's (model/block.c through
// crvq_block_forward, as the pipeline runs it) on random one-block models:
// multi-head and grouped-query attention, q/k/v biases, Qwen3's q/k norms,
// both RoPE styles, sequence lengths from 33 to 1024 (softmax rows longer
// than a thread block), several batches with the tapped sequences ending
// inside one. The outputs agree within a float32 summation bound, the proxy
// Hessians the GPU taps from its own buffers agree with the CPU's, and a
// second GPU run without taps gives the same bits. Skips (77) without a GPU.
#include "backend/backend.h"
#include "check.h"
#include "cuda_util.h"
#include "crvq.h"
#include "model/block.h"
#include "model/block_proj.h"
#include "model/forward.h"
#include "tiny_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct block_case {
    int dim, hidden, heads, kv, hd, T, n_seq, n_tap, bias, qk_norm;
    crvq_rope_style style;
} block_case;

typedef struct hess {
    double *H[CRVQ_N_TAPS];
    int width[CRVQ_N_TAPS];
    void *ctx;
} hess;

static void cpu_tap(void *ctx, int tap, const float *x, int n, int width) {
    (void)width;
    CHECK(crvq_cpu_hessian_add(ctx, tap, x, n) == CRVQ_OK);
}

static void hess_alloc(hess *h, const crvq_config *c) {
    for (int t = 0; t < CRVQ_N_TAPS; t++) {
        h->width[t] = crvq_tap_width(c, t);
        h->H[t] = malloc(sizeof(double) * h->width[t] * h->width[t]);
    }
}

static void hess_free(hess *h) {
    for (int t = 0; t < CRVQ_N_TAPS; t++) free(h->H[t]);
}

// The CPU's block over every sequence of X, taps on the first n_tap, as
// pipeline.c's run_block does it.
static void cpu_forward(const crvq_model *m, float *X, const block_case *k, hess *h) {
    crvq_state *s;
    CHECK(crvq_state_init(m, k->T, k->T, &s) == CRVQ_OK);
    CHECK(crvq_cpu_hessian_begin(CRVQ_N_TAPS, h->width, k->T, h->H, &h->ctx) == CRVQ_OK);
    size_t stride = (size_t)k->T * m->cfg.dim;
    for (int i = 0; i < k->n_seq; i++) {
        memcpy(crvq_state_residual(s), X + i * stride, stride * sizeof(float));
        crvq_block_forward(m, s, 0, k->T, 0, i < k->n_tap ? cpu_tap : NULL, h->ctx);
        memcpy(X + i * stride, crvq_state_residual(s), stride * sizeof(float));
    }
    CHECK(crvq_cpu_hessian_end(h->ctx, (long long)k->n_tap * k->T) == CRVQ_OK);
    crvq_state_free(s);
}

static double max_abs(const double *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double max_abs_diff_f64(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void run_case(const crvq_backend *gpu, const block_case *k) {
    crvq_config cfg = {.dim = k->dim, .hidden_dim = k->hidden, .n_layers = 1, .n_heads = k->heads,
                       .n_kv_heads = k->kv, .head_dim = k->hd, .vocab_size = 16, .max_seq_len = k->T,
                       .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = k->style, .qkv_bias = k->bias,
                       .qk_norm = k->qk_norm};
    crvq_model *m = tiny_model(&cfg);
    size_t len = (size_t)k->n_seq * k->T * k->dim;
    float *X0 = rand_vec(len, 1.0, 0.0), *Xc = malloc(len * sizeof(float)), *Xg = malloc(len * sizeof(float));
    float *Xg2 = malloc(len * sizeof(float));
    memcpy(Xc, X0, len * sizeof(float));
    memcpy(Xg, X0, len * sizeof(float));
    memcpy(Xg2, X0, len * sizeof(float));
    hess hc, hg;
    hess_alloc(&hc, &cfg);
    hess_alloc(&hg, &cfg);
    cpu_forward(m, Xc, k, &hc);

    crvq_status st = gpu->hessian_begin(CRVQ_N_TAPS, hg.width, k->T, hg.H, &hg.ctx);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st == CRVQ_OK) st = gpu->block_forward(&cfg, &m->layers[0], Xg, k->n_seq, k->T, k->n_tap, hg.ctx);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    CHECK(gpu->hessian_end(hg.ctx, st == CRVQ_OK ? (long long)k->n_tap * k->T : 0) == CRVQ_OK);
    st = gpu->block_forward(&cfg, &m->layers[0], Xg2, k->n_seq, k->T, 0, NULL);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());

    // Each output is a chain of float32 sums: dim terms (q, k, v, gate,
    // up), T (both attention products), q_dim (o), hidden (down). Two
    // orders of a k-term sum differ by at most 2·k·u·Σ|terms| (Higham's
    // γ_k for each); with the terms at the output's scale, and a factor 2
    // for the norms' and softmax's roundings in between:
    const double u = 0x1p-24;
    const double rel = 4 * u * (k->dim + k->T + k->heads * k->hd + k->hidden);
    double scale = 0, diff = 0, nan = 0;
    for (size_t i = 0; i < len; i++) {
        scale = fmax(scale, fabs(Xc[i]));
        double d = fabs((double)Xg[i] - Xc[i]);
        if (d != d) nan = 1;
        diff = fmax(diff, d);
    }
    printf("dim %d hidden %d heads %d/%d hd %d T %d seqs %d (tapped %d)%s%s: max |GPU - CPU| %.3g, bound %.3g\n",
           k->dim, k->hidden, k->heads, k->kv, k->hd, k->T, k->n_seq, k->n_tap, k->bias ? " bias" : "",
           k->qk_norm ? " qk-norm" : "", diff, rel * scale);
    CHECK(!nan);
    CHECK_MSG(diff <= rel * scale, "outputs differ by %g, bound %g", diff, rel * scale);
    CHECK_MSG(memcmp(Xg, Xg2, len * sizeof(float)) == 0, "a second GPU run (no taps) gave other bits");
    // H = XᵀX / N of inputs that each carry that relative error, twice.
    for (int t = 0; t < CRVQ_N_TAPS; t++) {
        size_t n2 = (size_t)hc.width[t] * hc.width[t];
        double hs = max_abs(hc.H[t], n2), hd = max_abs_diff_f64(hg.H[t], hc.H[t], n2);
        CHECK_MSG(hs > 0 && hd <= 2 * rel * hs, "tap %d: Hessians differ by %g (max |H| %g, bound %g)", t, hd, hs,
                  2 * rel * hs);
    }
    hess_free(&hc);
    hess_free(&hg);
    free(X0), free(Xc), free(Xg), free(Xg2);
    free_tiny_model(m);
}

int main(void) {
    test_require_cuda();
    const crvq_backend *gpu = crvq_backend_get(CRVQ_DEVICE_CUDA);
    CHECK(gpu->block_forward != NULL);
    const block_case cases[] = {
        // 8192 rows a batch: 128 sequences of 64, so two batches; taps end in the second
        {64, 160, 4, 4, 16, 64, 140, 130, 0, 0, CRVQ_ROPE_HALF},
        {96, 256, 6, 2, 16, 200, 5, 3, 1, 0, CRVQ_ROPE_INTERLEAVED},  // GQA, biases
        {64, 128, 4, 1, 32, 33, 4, 4, 0, 1, CRVQ_ROPE_HALF},        // q_dim != dim, q/k norms
        {32, 96, 2, 1, 16, 1024, 2, 1, 0, 0, CRVQ_ROPE_HALF},       // softmax rows of 1024
        {128, 344, 8, 8, 16, 512, 3, 2, 1, 0, CRVQ_ROPE_INTERLEAVED}, // 7B-like ratios, small
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases && gpu->block_forward; i++) run_case(gpu, &cases[i]);
    return check_done();
}
