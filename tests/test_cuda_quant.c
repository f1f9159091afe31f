// test_cuda_quant.c — VQ / CRVQ on the GPU (`--device cuda`, src/cuda/)
// against the CPU: the k-means, the initial layer (importance, permutation,
// codebooks, codes) and the first round match the CPU's closely; whole runs
// reach the CPU's relative loss within 1%; two GPU runs give the same bits;
// what the GPU refuses, it refuses with a message; the proxy Hessians
// agree within float64 rounding. Skips (77) without a GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "cuda_util.h"
#include "crvq.h"
#include "kernels/vq_weights.h"
#include "quant/kmeans.h"
#include "quant/rng.h"

static double rel_loss(const crvq_quant_result *r) { return r->loss / r->loss0; }

// crvq_synthetic_layer's layer `seed`: W (m, n) and H (n, n), malloc'd
// (layer_free).
typedef struct layer {
    float *W;
    double *H;
} layer;

static layer synthetic(int m, int n, int seed) {
    layer L = {malloc(sizeof(float) * m * n), malloc(sizeof(double) * n * n)};
    CHECK(crvq_synthetic_layer(m, n, seed, L.W, L.H) == CRVQ_OK);
    return L;
}

static void layer_free(layer *L) {
    free(L->W);
    free(L->H);
}

// Quantize a synthetic layer on `dev`; the result stays in *r.
static void run(int m, int n, crvq_quant_params p, crvq_device dev, crvq_quant_result *r) {
    layer L = synthetic(m, n, 7);
    p.device = dev;
    crvq_status st = crvq_quantize_matrix(L.W, m, n, L.H, &p, r);
    CHECK_MSG(st == CRVQ_OK, "%s on %s: %s", crvq_method_name(p.method), crvq_device_name(dev), crvq_last_error());
    if (st != CRVQ_OK) memset(r, 0, sizeof *r);
    layer_free(&L);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static size_t differing(const uint16_t *a, const uint16_t *b, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += a[i] != b[i];
    return k;
}

// Of n stored codes (`bytes` each), how many differ.
static size_t differing_codes(const void *a, const void *b, size_t n, int bytes) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += crvq_vq_code_at(a, bytes, i) != crvq_vq_code_at(b, bytes, i);
    return k;
}

// max |a - b| of two fp16 arrays (n), in float32.
static double max_half_diff(const uint16_t *a, const uint16_t *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)crvq_f16_to_f32(a[i]) - crvq_f16_to_f32(b[i])));
    return m;
}

// The GPU k-means runs the CPU's algorithm step for step: the same
// centroids and assignments, with a sample, with empty clusters, with fewer
// points than centroids.
static void test_kmeans(void) {
    struct { size_t n; int K, dup; size_t max_fit; } cases[] = {
        {100000, 256, 0, 65536}, // sampled fit
        {5000, 64, 1, 0},        // many duplicate points: empty clusters are re-seeded
        {100, 256, 0, 0},        // fewer points than centroids
    };
    int d = 8;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t n = cases[c].n;
        int K = cases[c].K;
        float *X = malloc(sizeof(float) * n * d), *C1 = malloc(sizeof(float) * K * d),
              *C2 = malloc(sizeof(float) * K * d);
        uint16_t *a1 = malloc(sizeof(uint16_t) * n), *a2 = malloc(sizeof(uint16_t) * n);
        crvq_rng g;
        crvq_rng_init(&g, 11 + c, 0);
        for (size_t i = 0; i < n * d; i++) {
            double u = crvq_rng_uniform(&g);
            X[i] = (float)(cases[c].dup ? floor(u * 3) : (2 * u - 1) * (1 + (i % d == 3) * 4));
        }
        crvq_kmeans_opts o = {.K = K, .iters = 12, .seed = 5, .stream = 2, .max_fit = cases[c].max_fit};
        CHECK(crvq_kmeans(X, n, d, &o, C1, a1) == CRVQ_OK);
        crvq_status st = crvq_backend_get(CRVQ_DEVICE_CUDA)->kmeans(X, n, d, &o, C2, a2);
        CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
        double dc = max_abs_diff(C1, C2, (size_t)K * d);
        size_t da = differing(a1, a2, n);
        printf("k-means case %zu (n %zu, K %d): max |C_gpu - C_cpu| %.3g, %zu of %zu assignments differ\n", c, n, K,
               dc, da, n);
        CHECK_MSG(dc <= 1e-5, "case %zu: centroids differ by %g", c, dc);
        CHECK_MSG(da <= n / 1000, "case %zu: %zu assignments differ", c, da);
        free(X);
        free(C1);
        free(C2);
        free(a1);
        free(a2);
    }
}

// max_rounds 0: the initial layer. Importance, permutation, scales,
// k-means codebooks and codes follow the CPU's arithmetic, so they agree up
// to the rounding of the loss's GEMMs.
static void test_initial_layer(void) {
    crvq_quant_params p;
    crvq_quant_params_default(&p, CRVQ_METHOD_CRVQ);
    p.lambda = 0.05;
    p.max_rounds = 0;
    int m = 256, n = 1024;
    crvq_quant_result c, gq;
    run(m, n, p, CRVQ_DEVICE_CPU, &c);
    run(m, n, p, CRVQ_DEVICE_CUDA, &gq);
    if (!gq.w_hat || !c.w_hat) return;
    CHECK(gq.vq.perm && c.vq.perm && !memcmp(gq.vq.perm, c.vq.perm, sizeof(int32_t) * n));
    size_t nc = (size_t)m * gq.vq.n_groups, ne = (size_t)m * gq.vq.n_crit * (gq.vq.M - 1);
    const int b0 = crvq_vq_code_bytes(gq.vq.e, 0, 1), bx = crvq_vq_code_bytes(gq.vq.e, 1, gq.vq.M);
    size_t dcodes = differing_codes(c.vq.codes, gq.vq.codes, nc, b0) +
                    differing_codes(c.vq.codes_ext, gq.vq.codes_ext, ne, bx);
    double dcb = 0;
    for (int k = 0; k < gq.vq.M; k++)
        dcb = fmax(dcb, max_half_diff(c.vq.codebooks[k], gq.vq.codebooks[k], (size_t)gq.vq.d << gq.vq.e[k]));
    printf("initial layer: %zu of %zu codes differ, codebooks by %.3g, scales by %.3g; rel. loss cpu %.9f gpu %.9f\n",
           dcodes, nc + ne, dcb, max_half_diff(c.vq.scales, gq.vq.scales, m), rel_loss(&c), rel_loss(&gq));
    CHECK(dcodes <= (nc + ne) / 1000);
    CHECK(dcb <= 1e-5);
    CHECK(max_half_diff(c.vq.scales, gq.vq.scales, m) == 0);
    CHECK_NEAR(rel_loss(&gq), rel_loss(&c), 1e-5);
    CHECK(gq.trace.loss && gq.rounds == 0);
    crvq_quant_result_free(&c);
    crvq_quant_result_free(&gq);
}

// One round (continuous step: scales, CG on the codebooks; discrete step:
// the code search) from the same start: the GPU's loss is the CPU's to
// rounding, for one and for several CG iterations.
static void test_first_round(void) {
    int cg[] = {1, 8};
    for (int method = CRVQ_METHOD_VQ; method <= CRVQ_METHOD_CRVQ; method++)
        for (int i = 0; i < 2; i++) {
            crvq_quant_params p;
            crvq_quant_params_default(&p, (crvq_method)method);
            p.max_rounds = 1;
            p.cg_iters = cg[i];
            if (method == CRVQ_METHOD_CRVQ) p.lambda = 0.05;
            crvq_quant_result c, gq;
            run(256, 512, p, CRVQ_DEVICE_CPU, &c);
            run(256, 512, p, CRVQ_DEVICE_CUDA, &gq);
            if (!gq.w_hat || !c.w_hat) continue;
            printf("%s, 1 round, %d CG iterations: rel. loss cpu %.7f gpu %.7f (init %.7f)\n",
                   crvq_method_name(p.method), cg[i], rel_loss(&c), rel_loss(&gq), gq.trace.loss[0] / gq.loss0);
            CHECK_NEAR(rel_loss(&gq), rel_loss(&c), 1e-3 * rel_loss(&c));
            CHECK(gq.trace.loss[1] < gq.trace.loss[0]);
            crvq_quant_result_free(&c);
            crvq_quant_result_free(&gq);
        }
}

// Whole runs with the defaults (tol 0.01): within 1% of the CPU's relative
// loss; L never rises round over round; a second GPU run gives the same bits.
static void test_whole_runs(void) {
    struct { crvq_method method; int M; double lambda; int m, n; } cases[] = {
        {CRVQ_METHOD_CRVQ, 4, 0.02, 512, 1024}, // 2 critical groups; the sampled k-means
        {CRVQ_METHOD_CRVQ, 4, 0.1, 256, 512},
        {CRVQ_METHOD_VQ, 1, 1, 256, 512},
        {CRVQ_METHOD_VQ, 2, 1, 128, 256},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        crvq_quant_params p;
        crvq_quant_params_default(&p, cases[i].method);
        p.M = cases[i].M;
        p.lambda = cases[i].lambda;
        crvq_quant_result c, g1, g2;
        run(cases[i].m, cases[i].n, p, CRVQ_DEVICE_CPU, &c);
        run(cases[i].m, cases[i].n, p, CRVQ_DEVICE_CUDA, &g1);
        run(cases[i].m, cases[i].n, p, CRVQ_DEVICE_CUDA, &g2);
        if (!c.w_hat || !g1.w_hat || !g2.w_hat) continue;
        double rc = rel_loss(&c), rg = rel_loss(&g1);
        printf("%s M %d lambda %g, %dx%d: cpu %.6f (%d rounds), gpu %.6f (%d rounds), gpu/cpu - 1 = %+.4f\n",
               crvq_method_name(p.method), p.M, p.lambda, cases[i].m, cases[i].n, rc, c.rounds, rg, g1.rounds,
               rg / rc - 1);
        CHECK_MSG(fabs(rg / rc - 1) <= 0.01, "gpu %g vs cpu %g", rg, rc);
        CHECK(g1.bits == c.bits);
        for (int r = 0; r < g1.rounds; r++) CHECK(g1.trace.loss[r + 1] <= g1.trace.loss[r]);
        size_t P = (size_t)cases[i].m * cases[i].n;
        CHECK_MSG(g1.rounds == g2.rounds && !memcmp(g1.w_hat, g2.w_hat, sizeof(float) * P) &&
                      !memcmp(g1.vq.codes, g2.vq.codes, (size_t)crvq_vq_code_bytes(p.e, 0, 1) * (P / p.d)) && g1.loss == g2.loss,
                  "two GPU runs differ (%s, case %zu)", crvq_method_name(p.method), i);
        crvq_quant_result_free(&c);
        crvq_quant_result_free(&g1);
        crvq_quant_result_free(&g2);
    }
}

// What the GPU code does not do, it says.
static void test_refusals(void) {
    int m = 16, n = 128;
    layer L = synthetic(m, n, 1);
    crvq_quant_params p;
    crvq_quant_result r;
    crvq_quant_params_default(&p, CRVQ_METHOD_VQ);
    p.device = CRVQ_DEVICE_CUDA;
    p.d = 64;
    CHECK(crvq_quantize_matrix(L.W, m, n, L.H, &p, &r) == CRVQ_ERR_UNSUPPORTED && strstr(crvq_last_error(), "d = 64"));
    p.d = 8;
    p.beam = 2;
    CHECK(crvq_quantize_matrix(L.W, m, n, L.H, &p, &r) == CRVQ_ERR_UNSUPPORTED && strstr(crvq_last_error(), "beam"));
    crvq_quant_params_default(&p, CRVQ_METHOD_GPTQ);
    p.device = CRVQ_DEVICE_CUDA;
    CHECK(crvq_quantize_matrix(L.W, m, n, L.H, &p, &r) == CRVQ_ERR_UNSUPPORTED && strstr(crvq_last_error(), "cpu"));
    layer_free(&L);
}

// The dispatcher's float64 work on the GPU: L(Ŵ) and L(0) equal the CPU's
// crvq_layer_loss to rounding, and an indefinite H gets the CPU's damping.
static void test_checks_and_losses(void) {
    int m = 64, n = 256;
    layer L = synthetic(m, n, 4);
    crvq_quant_params p;
    crvq_quant_params_default(&p, CRVQ_METHOD_CRVQ);
    p.lambda = 0.1;
    p.device = CRVQ_DEVICE_CUDA;
    for (int indefinite = 0; indefinite < 2; indefinite++) {
        if (indefinite) L.H[5 * n + 5] = -L.H[5 * n + 5]; // a negative diagonal entry: not PSD
        crvq_quant_result g, c;
        p.device = CRVQ_DEVICE_CUDA;
        CHECK_MSG(crvq_quantize_matrix(L.W, m, n, L.H, &p, &g) == CRVQ_OK, "%s", crvq_last_error());
        p.device = CRVQ_DEVICE_CPU;
        CHECK(crvq_quantize_matrix(L.W, m, n, L.H, &p, &c) == CRVQ_OK);
        if (!g.w_hat || !c.w_hat) continue;
        CHECK(g.damp_added == c.damp_added && (g.damp_added > 0) == indefinite);
        if (!indefinite) {
            CHECK_NEAR(g.loss, crvq_layer_loss(L.W, g.w_hat, m, n, L.H), 1e-10 * g.loss);
            CHECK_NEAR(g.loss0, crvq_layer_loss(L.W, NULL, m, n, L.H), 1e-10 * g.loss0);
        }
        crvq_quant_result_free(&g);
        crvq_quant_result_free(&c);
    }
    layer_free(&L);
}

// The GPU's proxy Hessians equal the CPU's within float64 rounding: three
// taps of odd widths, windows of different lengths (one empty). Products of
// float32 inputs are exact in float64, so the two differ only by the order
// of N additions: |ΔH_ij| <= 2 N 2^-53 Σ_r |x_ri x_rj| / N, the bound tested.
// A wrong triangle, layout or scale misses it by orders of magnitude.
static void test_hessians(void) {
    enum { TAPS = 3, WINDOWS = 4, MAX_ROWS = 300 };
    const int width[TAPS] = {64, 101, 37}, rows[WINDOWS] = {300, 1, 0, 173};
    const crvq_backend *gpu = crvq_backend_get(CRVQ_DEVICE_CUDA), *cpu = crvq_backend_get(CRVQ_DEVICE_CPU);
    double *Hg[TAPS], *Hc[TAPS], *A[TAPS];
    float *x = malloc(sizeof(float) * MAX_ROWS * 101);
    for (int t = 0; t < TAPS; t++) {
        size_t ww = (size_t)width[t] * width[t];
        Hg[t] = malloc(sizeof(double) * ww);
        Hc[t] = malloc(sizeof(double) * ww);
        A[t] = calloc(ww, sizeof(double));
    }
    void *cg = NULL, *cc = NULL;
    CHECK(gpu->hessian_begin(TAPS, width, MAX_ROWS, Hg, &cg) == CRVQ_OK);
    CHECK(cpu->hessian_begin(TAPS, width, MAX_ROWS, Hc, &cc) == CRVQ_OK);
    crvq_rng g;
    crvq_rng_init(&g, 5, 0);
    long long total = 0;
    for (int w = 0; w < WINDOWS; w++) {
        for (int t = 0; t < TAPS; t++) {
            int n = rows[w], k = width[t];
            // a few large channels, as activations have
            for (int i = 0; i < n * k; i++) x[i] = (float)((2 * crvq_rng_uniform(&g) - 1) * (i % k < 3 ? 20.0 : 1.0));
            CHECK(gpu->hessian_add(cg, t, x, n) == CRVQ_OK);
            CHECK(cpu->hessian_add(cc, t, x, n) == CRVQ_OK);
            for (int r = 0; r < n; r++)
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) A[t][i * k + j] += fabs((double)x[r * k + i] * x[r * k + j]);
        }
        total += rows[w];
    }
    CHECK(gpu->hessian_end(cg, total) == CRVQ_OK);
    CHECK(cpu->hessian_end(cc, total) == CRVQ_OK);
    for (int t = 0; t < TAPS; t++) {
        int k = width[t], bad = 0;
        double worst = 0;
        for (int i = 0; i < k * k; i++) {
            double bound = 2.0 * (double)total * 0x1p-53 * A[t][i] / (double)total;
            double d = fabs(Hg[t][i] - Hc[t][i]);
            if (d > bound) bad++;
            if (bound > 0 && d / bound > worst) worst = d / bound;
        }
        CHECK_MSG(bad == 0, "tap %d (width %d): %d entries of the GPU Hessian outside the rounding bound (worst %.3g x)",
                  t, k, bad, worst);
        free(Hg[t]);
        free(Hc[t]);
        free(A[t]);
    }
    free(x);
}

int main(void) {
    test_require_cuda();
    test_refusals();
    test_checks_and_losses();
    test_hessians();
    test_kmeans();
    test_initial_layer();
    test_first_round();
    test_whole_runs();
    return check_done();
}
