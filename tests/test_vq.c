// test_vq.c — VQ / CRVQ quantization of one matrix: exact ΔL of the code
// search, the continuous step (monotone, CG at its optimum, vs Adam), loss
// per round, determinism across threads, λ = 0 / λ = 1 edge cases,
// importance and permutation, degenerate inputs. Small sizes: also runs
// under ASan + UBSan.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crvq.h"
#include "quant/importance.h"
#include "quant/kmeans.h"
#include "quant/quant_internal.h"
#include "quant/rng.h"
#include "quant/vq.h"
#include "quant/vq_fit.h"
#include "quant/vq_search.h"
#include "quant/vq_update.h"
#include "quant/vq_work.h"

static double normal(crvq_rng *g) {
    double u = (crvq_rng_uniform(g) + 1e-300), v = crvq_rng_uniform(g);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

// A small layer: W (m, n) with heavy-ish tails, H = XᵀX/N from correlated
// activations with a few large channels (N = 4n tokens).
static void gen_problem(int m, int n, uint64_t seed, float *W, double *H) {
    crvq_rng g;
    crvq_rng_init(&g, seed, 99);
    for (size_t i = 0; i < (size_t)m * n; i++) {
        double x = normal(&g);
        W[i] = (float)(x * (1 + 0.5 * x * x) / sqrt((double)n));
    }
    int N = 4 * n;
    double *X = malloc(sizeof(double) * N * n), *scale = malloc(sizeof(double) * n);
    for (int j = 0; j < n; j++) scale[j] = exp(0.5 * normal(&g)) * (j % 17 == 3 ? 8.0 : 1.0);
    for (int t = 0; t < N; t++) {
        double common = normal(&g);
        for (int j = 0; j < n; j++) X[(size_t)t * n + j] = scale[j] * (0.6 * common + normal(&g) + 0.3);
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, N, 1.0 / N, X, n, X, n, 0.0, H, n);
    free(X);
    free(scale);
}

// Per-row loss of the permuted-order layer L against W and H in the
// layer's column order (no permutation here), float64 throughout.
static void ref_row_loss(const crvq_vq_fit *L, const float *W, const double *H, double *out) {
    int m = L->m_out, n = L->n_in;
    float *u = malloc(sizeof(float) * n);
    double *e = malloc(sizeof(double) * n);
    for (int r = 0; r < m; r++) {
        crvq_vq_unscaled_rows(L, NULL, r, r + 1, u);
        for (int j = 0; j < n; j++) e[j] = (double)W[(size_t)r * n + j] - (double)L->scales[r] * u[j];
        double s = 0;
        for (int i = 0; i < n; i++) {
            double hi = 0;
            for (int j = 0; j < n; j++) hi += H[(size_t)i * n + j] * e[j];
            s += e[i] * hi;
        }
        out[r] = s;
    }
    free(u);
    free(e);
}

static double ref_loss(const crvq_vq_fit *L, const float *W, const double *H) {
    double *rl = malloc(sizeof(double) * L->m_out), s = 0;
    ref_row_loss(L, W, H, rl);
    for (int r = 0; r < L->m_out; r++) s += rl[r];
    free(rl);
    return s;
}

static float *to_float(const double *H, int n) {
    float *f = malloc(sizeof(float) * n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) f[i] = (float)H[i];
    return f;
}

// A layer with random codebooks, codes and scales (no permutation).
static void random_layer(crvq_vq_fit *L, int m, int n, int d, int M, int e, int n_crit, const float *W,
                         uint64_t seed) {
    int es[CRVQ_MAX_CODEBOOKS];
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) es[k] = e - (k > 0); // extended codebooks a bit smaller
    CHECK(crvq_vq_fit_alloc(L, m, n, d, M, es, n_crit, 0) == CRVQ_OK);
    crvq_rng g;
    crvq_rng_init(&g, seed, 5);
    for (int k = 0; k < M; k++)
        for (size_t i = 0; i < ((size_t)d << L->e[k]); i++) L->codebooks[k][i] = (float)(normal(&g) / sqrt(n) / (k + 1));
    for (int r = 0; r < m; r++) {
        double ss = 0;
        for (int j = 0; j < n; j++) ss += (double)W[(size_t)r * n + j] * W[(size_t)r * n + j];
        L->scales[r] = (float)sqrt(ss);
        for (int g2 = 0; g2 < L->n_groups; g2++)
            for (int k = 0; k < crvq_vq_group_books(L, g2); k++)
                *crvq_vq_code(L, r, g2, k) = (uint16_t)crvq_rng_below(&g, 1u << L->e[k]);
    }
}

// ---------------------------------------------------------------- search ---

static void test_search_exact(int M, int n_crit, int beam, int block_groups) {
    int m = 24, n = 64, d = 4;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 7, W, H);
    float *Hf = to_float(H, n);
    crvq_vq_fit L;
    random_layer(&L, m, n, d, M, 5, n_crit, W, 11);
    uint16_t *codes0 = malloc(sizeof(uint16_t) * m * L.n_groups);
    memcpy(codes0, L.codes, sizeof(uint16_t) * m * L.n_groups);
    size_t next = (size_t)m * n_crit * (M - 1);
    uint16_t *ext0 = next ? malloc(sizeof(uint16_t) * next) : NULL;
    if (next) memcpy(ext0, L.codes_ext, sizeof(uint16_t) * next);

    crvq_vq_work w;
    CHECK(crvq_vq_work_init(&w, &L, W, Hf) == CRVQ_OK);
    if (block_groups) w.block_groups = block_groups;
    double *before = malloc(sizeof(double) * m), *after = malloc(sizeof(double) * m);
    double *pred = malloc(sizeof(double) * m), dL;
    ref_row_loss(&L, W, H, before);
    CHECK(crvq_vq_search(&w, beam, &dL, pred) == CRVQ_OK);
    ref_row_loss(&L, W, H, after);
    double total = 0, worst = 0;
    for (int r = 0; r < m; r++) {
        double err = fabs((after[r] - before[r]) - pred[r]) / before[r];
        worst = fmax(worst, err);
        total += pred[r];
        CHECK_MSG(after[r] <= before[r] * (1 + 1e-6), "row %d: L_r %g -> %g", r, before[r], after[r]);
    }
    CHECK_MSG(worst < 1e-4, "M=%d n_crit=%d beam=%d: predicted vs recomputed ΔL_r differ by %g of L_r", M, n_crit,
              beam, worst);
    CHECK_NEAR(dL, total, 1e-12);
    CHECK(dL < 0);
    // Moves happened in basic codes and, when there are any, in extended ones.
    CHECK(memcmp(codes0, L.codes, sizeof(uint16_t) * m * L.n_groups) != 0);
    if (next) CHECK(memcmp(ext0, L.codes_ext, sizeof(uint16_t) * next) != 0);
    // V was kept current: compare with a fresh U·H.
    float *V = malloc(sizeof(float) * m * n);
    memcpy(V, w.V, sizeof(float) * m * n);
    crvq_vq_work_refresh(&w);
    double vmax = 0, dmax = 0;
    for (size_t i = 0; i < (size_t)m * n; i++) {
        vmax = fmax(vmax, fabs(w.V[i]));
        dmax = fmax(dmax, fabs(w.V[i] - V[i]));
    }
    CHECK_MSG(dmax <= 1e-5 * vmax, "V drifted by %g (max |V| %g)", dmax, vmax);
    // The internal loss agrees with the float64 recomputation.
    CHECK_NEAR(crvq_vq_work_loss(&w, NULL), ref_loss(&L, W, H), 1e-4);
    crvq_vq_work_free(&w);
    crvq_vq_fit_free(&L);
    free(W);
    free(H);
    free(Hf);
    free(codes0);
    free(ext0);
    free(before);
    free(after);
    free(pred);
    free(V);
}

// Beam search has the greedy path's first move among its candidates but may
// drop that path later, so it is not better on every vector; over a layer
// it should gain at least as much.
static void test_beam_vs_greedy(void) {
    int m = 32, n = 64, d = 4;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n), dl1, dl4;
    gen_problem(m, n, 3, W, H);
    float *Hf = to_float(H, n);
    crvq_vq_fit A, B;
    random_layer(&A, m, n, d, 3, 5, 16, W, 1);
    random_layer(&B, m, n, d, 3, 5, 16, W, 1);
    crvq_vq_work wa, wb;
    CHECK(crvq_vq_work_init(&wa, &A, W, Hf) == CRVQ_OK);
    CHECK(crvq_vq_work_init(&wb, &B, W, Hf) == CRVQ_OK);
    CHECK(crvq_vq_search(&wa, 1, &dl1, NULL) == CRVQ_OK);
    CHECK(crvq_vq_search(&wb, 4, &dl4, NULL) == CRVQ_OK);
    CHECK_MSG(dl4 <= dl1, "beam 4 gained %g, greedy %g", dl4, dl1);
    crvq_vq_work_free(&wa);
    crvq_vq_work_free(&wb);
    crvq_vq_fit_free(&A);
    crvq_vq_fit_free(&B);
    free(W);
    free(H);
    free(Hf);
}

// ------------------------------------------------------ continuous step ---

// ∂L/∂C in float64, straight from the definition.
static void ref_gradient(const crvq_vq_fit *L, const float *W, const double *H, double *grad) {
    int m = L->m_out, n = L->n_in, d = L->d;
    memset(grad, 0, crvq_vq_param_count(L) * sizeof *grad);
    float *u = malloc(sizeof(float) * n);
    double *e = malloc(sizeof(double) * n), *He = malloc(sizeof(double) * n);
    for (int r = 0; r < m; r++) {
        crvq_vq_unscaled_rows(L, NULL, r, r + 1, u);
        double s = L->scales[r];
        for (int j = 0; j < n; j++) e[j] = (double)W[(size_t)r * n + j] - s * u[j];
        for (int i = 0; i < n; i++) {
            He[i] = 0;
            for (int j = 0; j < n; j++) He[i] += H[(size_t)i * n + j] * e[j];
        }
        for (int g = 0; g < L->n_groups; g++)
            for (int k = 0; k < crvq_vq_group_books(L, g); k++) {
                double *gj = grad + crvq_vq_param_offset(L, k) + (size_t)*crvq_vq_code(L, r, g, k) * d;
                for (int t = 0; t < d; t++) gj[t] -= 2 * s * He[g * d + t];
            }
    }
    free(u);
    free(e);
    free(He);
}

static double norm2(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

// The released code's continuous step: Adam on the codebook entries.
static void adam(crvq_vq_fit *L, const float *W, const double *H, int steps, double lr) {
    size_t np = crvq_vq_param_count(L);
    double *g = calloc(np, sizeof *g), *mo = calloc(np, sizeof *mo), *v = calloc(np, sizeof *v);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int it = 1; it <= steps; it++) {
        ref_gradient(L, W, H, g);
        for (int k = 0; k < L->M; k++) {
            size_t off = crvq_vq_param_offset(L, k);
            for (size_t i = 0; i < ((size_t)L->d << L->e[k]); i++) {
                size_t x = off + i;
                mo[x] = b1 * mo[x] + (1 - b1) * g[x];
                v[x] = b2 * v[x] + (1 - b2) * g[x] * g[x];
                double mh = mo[x] / (1 - pow(b1, it)), vh = v[x] / (1 - pow(b2, it));
                L->codebooks[k][i] = (float)(L->codebooks[k][i] - lr * mh / (sqrt(vh) + eps));
            }
        }
    }
    free(g);
    free(mo);
    free(v);
}

static void test_continuous(void) {
    int m = 32, n = 64, d = 4, M = 2, n_crit = 8;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 21, W, H);
    float *Hf = to_float(H, n);
    crvq_vq_fit L, A;
    random_layer(&L, m, n, d, M, 4, n_crit, W, 2);
    random_layer(&A, m, n, d, M, 4, n_crit, W, 2);
    size_t np = crvq_vq_param_count(&L);
    double *g0 = malloc(sizeof(double) * np), *g1 = malloc(sizeof(double) * np), dl;
    crvq_vq_work w;
    CHECK(crvq_vq_work_init(&w, &L, W, Hf) == CRVQ_OK);

    // The gradient matches the float64 definition.
    ref_gradient(&L, W, H, g0);
    crvq_vq_codebook_gradient(&w, g1);
    double diff = 0;
    for (size_t i = 0; i < np; i++) diff = fmax(diff, fabs(g0[i] - g1[i]));
    CHECK_MSG(diff <= 1e-4 * norm2(g0, np), "gradient off by %g (norm %g)", diff, norm2(g0, np));

    // Scales: exact per row (dL/ds_r = 0 after), predicted change exact.
    double L0 = ref_loss(&L, W, H);
    crvq_vq_update_scales(&w, &dl);
    double L1 = ref_loss(&L, W, H);
    CHECK(L1 <= L0);
    CHECK_NEAR(L1 - L0, dl, 1e-4 * L0);
    {
        float *u = malloc(sizeof(float) * n);
        for (int r = 0; r < m; r++) {
            crvq_vq_unscaled_rows(&L, NULL, r, r + 1, u);
            double beta = 0, gamma = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double h = H[(size_t)i * n + j];
                    beta += W[(size_t)r * n + i] * h * u[j];
                    gamma += u[i] * h * u[j];
                }
            CHECK_MSG(fabs(L.scales[r] * gamma - beta) <= 1e-5 * fabs(beta), "row %d: s = %g, optimum %g", r,
                      L.scales[r], beta / gamma);
        }
        free(u);
    }

    // Two CG iterations (the default): L goes down by the predicted amount.
    crvq_vq_update_scales(&w, &dl);
    L0 = ref_loss(&L, W, H);
    CHECK(crvq_vq_update_codebooks(&w, CRVQ_VQ_CG_ITERS, &dl) == CRVQ_OK);
    double Lcg = ref_loss(&L, W, H);
    CHECK_MSG(Lcg < L0, "CG: %g -> %g", L0, Lcg);
    CHECK_NEAR(Lcg - L0, dl, 1e-4 * L0);

    // The released code's step from the same start (Adam, 100 steps, lr 1e-4)
    // does less than two CG iterations.
    crvq_vq_work wa;
    CHECK(crvq_vq_work_init(&wa, &A, W, Hf) == CRVQ_OK);
    crvq_vq_update_scales(&wa, &dl);
    crvq_vq_update_scales(&wa, &dl);
    crvq_vq_work_free(&wa);
    CHECK_NEAR(ref_loss(&A, W, H), L0, 1e-12);
    adam(&A, W, H, 100, 1e-4);
    double Ladam = ref_loss(&A, W, H);
    CHECK_MSG(Lcg < Ladam, "CG(%d) %g vs Adam(100) %g (start %g)", CRVQ_VQ_CG_ITERS, Lcg, Ladam, L0);
    printf("continuous step from L = %.6g: CG(%d) %.6g, Adam(100, 1e-4) %.6g\n", L0, CRVQ_VQ_CG_ITERS, Lcg, Ladam);

    // Run to convergence: the gradient vanishes (the exact least-squares codebooks).
    CHECK(crvq_vq_update_codebooks(&w, 300, &dl) == CRVQ_OK);
    double Lopt = ref_loss(&L, W, H);
    CHECK(Lopt <= Lcg);
    ref_gradient(&L, W, H, g1);
    CHECK_MSG(norm2(g1, np) <= 2e-3 * norm2(g0, np), "gradient at the CG solution %g (start %g)", norm2(g1, np),
              norm2(g0, np));
    crvq_vq_work_free(&w);
    crvq_vq_fit_free(&L);
    crvq_vq_fit_free(&A);
    free(W);
    free(H);
    free(Hf);
    free(g0);
    free(g1);
}

// ------------------------------------------------------- whole quantizer ---

static crvq_quant_params params(crvq_method method, int M, double lambda) {
    crvq_quant_params p;
    crvq_quant_params_default(&p, method);
    p.d = 4;
    p.M = M;
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) p.e[k] = 5;
    p.lambda = lambda;
    p.kmeans_iters = 8;
    p.max_rounds = 6;
    return p;
}

// Two stored layers, array by array.
static int same_layer(const crvq_vq_layer *a, const crvq_vq_layer *b) {
    if (a->m_out != b->m_out || a->n_in != b->n_in || a->d != b->d || a->M != b->M || a->n_groups != b->n_groups ||
        a->n_crit != b->n_crit || memcmp(a->e, b->e, sizeof a->e))
        return 0;
    for (int k = 0; k < a->M; k++)
        if (memcmp(a->codebooks[k], b->codebooks[k], sizeof(uint16_t) * ((size_t)a->d << a->e[k]))) return 0;
    const size_t b0 = (size_t)crvq_vq_code_bytes(a->e, 0, 1), bx = (size_t)crvq_vq_code_bytes(a->e, 1, a->M);
    if (memcmp(a->codes, b->codes, b0 * a->m_out * a->n_groups)) return 0;
    if (!a->codes_ext != !b->codes_ext) return 0;
    if (a->codes_ext && memcmp(a->codes_ext, b->codes_ext, bx * a->m_out * a->n_crit * (a->M - 1))) return 0;
    if (memcmp(a->scales, b->scales, sizeof(uint16_t) * a->m_out)) return 0;
    if (!a->perm != !b->perm) return 0;
    return !a->perm || !memcmp(a->perm, b->perm, sizeof(int32_t) * a->n_in);
}

static void test_rounds(void) {
    int m = 32, n = 128;
    float *W = malloc(sizeof(float) * m * n), *Wh = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n), losses[16];
    gen_problem(m, n, 5, W, H);
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ, 3, 0.25);
    p.tol = 0;
    crvq_vq_opts o;
    crvq_vq_opts_default(&o);
    o.losses = losses;
    crvq_vq_layer L;
    int rounds;
    CHECK(crvq_vq_quantize_ex(W, m, n, H, &p, &o, &L, &rounds) == CRVQ_OK);
    CHECK(rounds >= 1 && rounds <= p.max_rounds);
    CHECK(L.perm != NULL && L.n_crit == 8 && L.M == 3);
    for (int i = 1; i <= rounds; i++)
        CHECK_MSG(losses[i] <= losses[i - 1], "round %d: L %.9g -> %.9g", i, losses[i - 1], losses[i]);
    CHECK(losses[rounds] < 0.8 * losses[0]);
    crvq_vq_dequantize(&L, Wh);
    double Lf = crvq_layer_loss(W, Wh, m, n, H), L0 = crvq_layer_loss(W, NULL, m, n, H);
    // The bookkeeping matches the real loss up to the fp16 rounding at the end.
    CHECK_NEAR(Lf, losses[rounds], 2e-3 * losses[rounds]);

    // Same budget of basic codes: the relaxation beats one codebook.
    crvq_quant_params p1 = params(CRVQ_METHOD_VQ, 1, 1);
    crvq_vq_layer V1;
    CHECK(crvq_vq_quantize(W, m, n, H, &p1, &V1, &rounds) == CRVQ_OK);
    crvq_vq_dequantize(&V1, Wh);
    double Lv = crvq_layer_loss(W, Wh, m, n, H);
    CHECK_MSG(Lf < Lv, "crvq %g vs vq-1 %g", Lf / L0, Lv / L0);
    printf("32x128, e = 5: rel loss crvq (M = 3, λ = 0.25) %.4f, vq-1 %.4f\n", Lf / L0, Lv / L0);
    crvq_vq_layer_free(&L);
    crvq_vq_layer_free(&V1);
    free(W);
    free(Wh);
    free(H);
}

static void test_threads_and_seeds(void) {
    int m = 48, n = 128, saved = crvq_get_threads();
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 8, W, H);
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ, 3, 0.2);
    p.beam = 2;
    crvq_vq_layer A, B, C;
    int ra, rb, rc;
    crvq_set_threads(1);
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &A, &ra) == CRVQ_OK);
    crvq_set_threads(2);
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &B, &rb) == CRVQ_OK);
    CHECK(ra == rb);
    CHECK_MSG(same_layer(&A, &B), "1 and 2 threads give different layers");
    p.seed = 1;
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &C, &rc) == CRVQ_OK);
    CHECK(memcmp(A.codes, C.codes, (size_t)crvq_vq_code_bytes(A.e, 0, 1) * m * A.n_groups) != 0);
    crvq_set_threads(saved);
    crvq_vq_layer_free(&A);
    crvq_vq_layer_free(&B);
    crvq_vq_layer_free(&C);
    free(W);
    free(H);
}

// λ = 0 CRVQ is 1-codebook VQ; λ = 1 CRVQ is M-codebook VQ: bit for bit.
static void test_lambda_edges(void) {
    int m = 16, n = 64, r1, r2;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 4, W, H);
    crvq_vq_layer A, B;
    crvq_quant_params c0 = params(CRVQ_METHOD_CRVQ, 4, 0.0), v1 = params(CRVQ_METHOD_VQ, 1, 1.0);
    CHECK(crvq_vq_quantize(W, m, n, H, &c0, &A, &r1) == CRVQ_OK);
    CHECK(crvq_vq_quantize(W, m, n, H, &v1, &B, &r2) == CRVQ_OK);
    CHECK(A.M == 1 && A.perm == NULL && A.codes_ext == NULL && A.n_crit == A.n_groups);
    CHECK(r1 == r2 && same_layer(&A, &B));
    CHECK_NEAR(crvq_vq_bits(&A), crvq_vq_bits(&B), 0);
    crvq_vq_layer_free(&A);
    crvq_vq_layer_free(&B);

    // λ small enough that no group is critical behaves the same way.
    c0.lambda = 3.9 / n; // floor(64 · λ / 4) = 0
    CHECK(crvq_vq_quantize(W, m, n, H, &c0, &A, &r1) == CRVQ_OK);
    CHECK(crvq_vq_quantize(W, m, n, H, &v1, &B, &r2) == CRVQ_OK);
    CHECK(same_layer(&A, &B));
    crvq_vq_layer_free(&A);
    crvq_vq_layer_free(&B);

    crvq_quant_params c1 = params(CRVQ_METHOD_CRVQ, 3, 1.0), v3 = params(CRVQ_METHOD_VQ, 3, 1.0);
    CHECK(crvq_vq_quantize(W, m, n, H, &c1, &A, &r1) == CRVQ_OK);
    CHECK(crvq_vq_quantize(W, m, n, H, &v3, &B, &r2) == CRVQ_OK);
    CHECK(A.M == 3 && A.perm == NULL && A.n_crit == A.n_groups);
    CHECK(r1 == r2 && same_layer(&A, &B));
    crvq_vq_layer_free(&A);
    crvq_vq_layer_free(&B);

    // M = 1 CRVQ has nothing to relax either.
    crvq_quant_params c2 = params(CRVQ_METHOD_CRVQ, 1, 0.25);
    CHECK(crvq_vq_quantize(W, m, n, H, &c2, &A, &r1) == CRVQ_OK);
    CHECK(crvq_vq_quantize(W, m, n, H, &v1, &B, &r2) == CRVQ_OK);
    CHECK(same_layer(&A, &B));
    crvq_vq_layer_free(&A);
    crvq_vq_layer_free(&B);
    free(W);
    free(H);
}

// ------------------------------------------------------------ importance ---

static void test_importance(void) {
    int m = 16, n = 64;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n), *imp = malloc(sizeof(double) * n), *J = malloc(sizeof(double) * n);
    int32_t *perm = malloc(sizeof(int32_t) * n), *perm2 = malloc(sizeof(int32_t) * n);
    gen_problem(m, n, 6, W, H);
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ, 4, 0.25);
    p.order = CRVQ_ORDER_SORT; // the paper's full sort first; partition below

    // Hessian: I_j = mean_r R[r,j]² H[j,j] with R the residual of the pre-quantization.
    CHECK(crvq_channel_importance(W, m, n, H, &p, imp) == CRVQ_OK);
    int d = p.d, K = 1 << p.e[0];
    float *C = malloc(sizeof(float) * K * d);
    uint16_t *a = malloc(sizeof(uint16_t) * m * n / d);
    crvq_kmeans_opts ko = {.K = K, .iters = p.kmeans_iters, .seed = p.seed, .stream = CRVQ_STREAM_PREQUANT,
                           .max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * K};
    CHECK(crvq_kmeans(W, (size_t)m * n / d, d, &ko, C, a) == CRVQ_OK);
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int r = 0; r < m; r++) {
            double e = (double)W[r * n + j] - C[a[(r * n + j) / d] * d + j % d];
            s += e * e;
        }
        J[j] = s / m * H[(size_t)j * n + j];
        CHECK_NEAR(imp[j], J[j], 1e-9);
    }
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm) == CRVQ_OK);
    for (int j = 1; j < n; j++) CHECK(imp[perm[j - 1]] > imp[perm[j]] || (imp[perm[j - 1]] == imp[perm[j]] && perm[j - 1] < perm[j]));
    // Partition: the same first 16 channels, then the others in original order.
    p.order = CRVQ_ORDER_PARTITION;
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm2) == CRVQ_OK);
    CHECK(!memcmp(perm, perm2, sizeof(int32_t) * 16));
    for (int j = 17; j < n; j++) CHECK(perm2[j - 1] < perm2[j]);
    p.order = CRVQ_ORDER_SORT;

    // Magnitude: column j scaled by (1 + j % 8) sorts by that factor, ties by index.
    p.importance = CRVQ_IMPORTANCE_MAGNITUDE;
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) W[r * n + j] = (float)((r % 2 ? -1 : 1) * (1 + j % 8));
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm) == CRVQ_OK);
    for (int j = 0; j < n; j++) CHECK(perm[j] == (7 - j / 8) + 8 * (j % 8));

    // Random: a permutation, deterministic in the seed.
    p.importance = CRVQ_IMPORTANCE_RANDOM;
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm) == CRVQ_OK);
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm2) == CRVQ_OK);
    CHECK(!memcmp(perm, perm2, sizeof(int32_t) * n));
    p.seed = 9;
    CHECK(crvq_channel_perm(W, m, n, H, &p, 16, perm2) == CRVQ_OK);
    CHECK(memcmp(perm, perm2, sizeof(int32_t) * n) != 0);
    unsigned char *seen = calloc(n, 1);
    for (int j = 0; j < n; j++) seen[perm[j]]++;
    for (int j = 0; j < n; j++) CHECK(seen[j] == 1);
    free(seen);
    free(W);
    free(H);
    free(imp);
    free(J);
    free(perm);
    free(perm2);
    free(C);
    free(a);
}

// Dequantization undoes the permutation: ŵ[r, perm[j]] = s_r u[r, j], with
// u[r, j] the sum of row r's codewords at permuted column j, both from the
// stored fp16 values.
static void test_dequant_perm(void) {
    int m = 8, n = 32, r1;
    float *W = malloc(sizeof(float) * m * n), *Wh = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 12, W, H);
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ, 2, 0.5);
    crvq_vq_layer L;
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &L, &r1) == CRVQ_OK);
    CHECK(L.perm != NULL && L.n_crit == 4 && L.M == 2);
    crvq_vq_dequantize(&L, Wh);
    const int b0 = crvq_vq_code_bytes(L.e, 0, 1), bx = crvq_vq_code_bytes(L.e, 1, 2);
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) {
            const int g = j / L.d, t = j % L.d;
            float u = crvq_f16_to_f32(L.codebooks[0][crvq_vq_code_at(L.codes, b0, (size_t)r * L.n_groups + g) * L.d + t]);
            if (g < L.n_crit)
                u += crvq_f16_to_f32(L.codebooks[1][crvq_vq_code_at(L.codes_ext, bx, (size_t)r * L.n_crit + g) * L.d + t]);
            CHECK(Wh[r * n + L.perm[j]] == crvq_f16_to_f32(L.scales[r]) * u);
        }
    crvq_vq_layer_free(&L);
    free(W);
    free(Wh);
    free(H);
}

// ------------------------------------------------------------ degenerate ---

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void test_degenerate(void) {
    int m = 16, n = 64, r;
    float *W = malloc(sizeof(float) * m * n), *Wh = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 13, W, H);
    crvq_vq_layer L;
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ, 3, 0.25);

    // Bad parameters and inputs are user errors, nothing allocated.
    crvq_quant_params q = p;
    q.d = 6;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    CHECK(L.codes == NULL);
    q = p;
    q.e[1] = 0;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    q.e[1] = 17;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    q = p;
    q.M = 0;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    q.M = CRVQ_MAX_CODEBOOKS + 1;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    q = p;
    q.lambda = 1.5;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    q = p;
    q.beam = 0;
    CHECK(crvq_vq_quantize(W, m, n, H, &q, &L, &r) == CRVQ_ERR_INVALID);
    float keep = W[70];
    W[70] = NAN;
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &L, &r) == CRVQ_ERR_INVALID);
    W[70] = keep;
    double hk = H[5];
    H[5] = INFINITY;
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &L, &r) == CRVQ_ERR_INVALID);
    H[5] = hk;
    CHECK(strstr(crvq_last_error(), "H[0, 5]") != NULL);

    // All-zero rows reconstruct as exact zeros; nothing is NaN.
    for (int j = 0; j < n; j++) W[0 * n + j] = W[5 * n + j] = 0;
    CHECK(crvq_vq_quantize(W, m, n, H, &p, &L, &r) == CRVQ_OK);
    crvq_vq_dequantize(&L, Wh);
    CHECK(all_finite(Wh, (size_t)m * n));
    for (int i = 0; i < m; i++) CHECK(isfinite(crvq_f16_to_f32(L.scales[i])));
    for (int j = 0; j < n; j++) CHECK(Wh[0 * n + j] == 0 && Wh[5 * n + j] == 0);
    crvq_vq_layer_free(&L);

    // An all-zero matrix: zero reconstruction, no rounds needed.
    float *Z = calloc((size_t)m * n, sizeof *Z);
    CHECK(crvq_vq_quantize(Z, m, n, H, &p, &L, &r) == CRVQ_OK);
    crvq_vq_dequantize(&L, Wh);
    for (size_t i = 0; i < (size_t)m * n; i++) CHECK(Wh[i] == 0);
    CHECK(r == 0);
    crvq_vq_layer_free(&L);
    free(Z);

    // An indefinite H (the dispatcher damps it; the method must not blow up).
    double *Hb = malloc(sizeof(double) * n * n);
    memcpy(Hb, H, sizeof(double) * n * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Hb[(size_t)i * n + j] -= 3.0 * ((i + j) % 3 == 0) * sqrt(H[i * n + i] * H[j * n + j]);
    CHECK(crvq_vq_quantize(W, m, n, Hb, &p, &L, &r) == CRVQ_OK);
    crvq_vq_dequantize(&L, Wh);
    CHECK(all_finite(Wh, (size_t)m * n));
    crvq_vq_layer_free(&L);
    free(Hb);

    // Tiny layers: one row, one group, fewer vectors than codewords.
    crvq_quant_params t = params(CRVQ_METHOD_VQ, 2, 1.0);
    t.d = 4;
    CHECK(crvq_vq_quantize(W + n, 1, 4, H, &t, &L, &r) == CRVQ_OK);
    CHECK(L.n_groups == 1 && L.M == 2);
    crvq_vq_dequantize(&L, Wh);
    CHECK(all_finite(Wh, 4));
    crvq_vq_layer_free(&L);
    t.d = 1; // scalar "vectors"
    t.e[0] = 2;
    CHECK(crvq_vq_quantize(W, m, n, H, &t, &L, &r) == CRVQ_OK);
    crvq_vq_dequantize(&L, Wh);
    CHECK(all_finite(Wh, (size_t)m * n));
    crvq_vq_layer_free(&L);
    free(W);
    free(Wh);
    free(H);
}

// ------------------------------------------------------------------ bits ---

// The formula of docs/method.md, "Bits per weight", on a 4096 x 4096 layer with the defaults,
// straight from the layer description (nothing quantized).
static void test_bits(void) {
    int32_t dummy_perm;
    crvq_vq_layer L = {.m_out = 4096, .n_in = 4096, .d = 8, .M = 4, .e = {8, 8, 8, 8}, .n_groups = 512,
                       .n_crit = 10, .perm = &dummy_perm};
    double P = 4096.0 * 4096.0;
    double want = (P / 8 * 8 + 4096.0 * 10 * 24 + 4 * 256 * 8 * 16 + 4096 * 16 + 4096 * 16) / P;
    CHECK_NEAR(crvq_vq_bits(&L), want, 1e-15);
    CHECK(fabs(crvq_vq_bits(&L) - 1.07) < 0.01);
    printf("bits: crvq defaults %.4f", crvq_vq_bits(&L));
    // One basic codebook (VQ-1: no permutation, every group "critical").
    crvq_vq_layer V = {.m_out = 4096, .n_in = 4096, .d = 8, .M = 1, .e = {8}, .n_groups = 512, .n_crit = 512};
    CHECK_NEAR(crvq_vq_bits(&V), (P + 256 * 8 * 16 + 4096 * 16) / P, 1e-15);
    CHECK(fabs(crvq_vq_bits(&V) - 1.005) < 0.002);
    // Two codebooks on every vector: the extended codes count everywhere.
    V.M = 2;
    V.e[1] = 8;
    CHECK_NEAR(crvq_vq_bits(&V), (2 * P + 2 * 256 * 8 * 16 + 4096 * 16) / P, 1e-15);
    printf(", vq-1 %.4f, vq-2 %.4f\n", (P + 256 * 8 * 16 + 4096 * 16) / P, crvq_vq_bits(&V));
    // Scalar: 2 bits + fp16 scale and zero per 128 weights.
    crvq_scalar_layer S = {.m_out = 4096, .n_in = 4096, .bits = 2, .group_size = 128};
    CHECK_NEAR(crvq_scalar_bits(&S), 2.25, 1e-15);
}

// ------------------------------------------------------------ dispatcher ---

static void test_dispatcher(void) {
    int m = 32, n = 128;
    float *W = malloc(sizeof(float) * m * n);
    double *H = malloc(sizeof(double) * n * n);
    gen_problem(m, n, 14, W, H);
    for (int method = CRVQ_METHOD_VQ; method <= CRVQ_METHOD_CRVQ; method++) {
        crvq_quant_params p;
        crvq_quant_params_default(&p, (crvq_method)method);
        p.e[0] = 6; // keep it small and fast
        p.e[1] = p.e[2] = p.e[3] = 6;
        p.lambda = method == CRVQ_METHOD_CRVQ ? 0.25 : 1;
        crvq_quant_result res;
        CHECK(crvq_quantize_matrix(W, m, n, H, &p, &res) == CRVQ_OK);
        CHECK(res.loss < res.loss0 && res.loss > 0 && res.rounds >= 1);
        CHECK_NEAR(res.bits, crvq_vq_bits(&res.vq), 0);
        CHECK(all_finite(res.w_hat, (size_t)m * n));
        crvq_quant_result_free(&res);
    }
    free(W);
    free(H);
}

int main(void) {
    test_search_exact(1, 0, 1, 0);
    test_search_exact(1, 0, 1, 3);
    test_search_exact(3, 6, 1, 0);
    test_search_exact(3, 6, 1, 4);
    test_search_exact(3, 6, 4, 5);
    test_search_exact(2, 16, 3, 0); // every group critical (VQ layout)
    test_beam_vs_greedy();
    test_continuous();
    test_rounds();
    test_threads_and_seeds();
    test_lambda_edges();
    test_importance();
    test_dequant_perm();
    test_degenerate();
    test_bits();
    test_dispatcher();
    return check_done();
}
