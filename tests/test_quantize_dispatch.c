// test_quantize_dispatch.c — crvq_quantize_matrix()'s contract: defaults,
// input validation (NaN/Inf, shapes, parameter ranges, asymmetric H), the
// damping of an H that is not PSD, all-zero rows, the loss it reports, and
// the synthetic generator's determinism.
#include "check.h"
#include "crvq.h"

enum { M = 16, N = 128 };

static float W[M * N];
static double H[N * N];

static crvq_quant_params params(crvq_method m) {
    crvq_quant_params p;
    crvq_quant_params_default(&p, m);
    return p;
}

// Expect INVALID with `needle` in the message, and nothing allocated.
static void expect_invalid(const float *w, const double *h, int m, int n, const crvq_quant_params *p,
                           const char *needle) {
    crvq_quant_result r;
    crvq_status st = crvq_quantize_matrix(w, m, n, h, p, &r);
    CHECK_MSG(st == CRVQ_ERR_INVALID, "status %d for '%s'", st, needle);
    CHECK_MSG(strstr(crvq_last_error(), needle) != NULL, "'%s' lacks '%s'", crvq_last_error(), needle);
    CHECK(r.w_hat == NULL && r.scalar.q == NULL && r.vq.codes == NULL);
}

static void test_defaults(void) {
    crvq_quant_params p = params(CRVQ_METHOD_CRVQ);
    CHECK(p.d == 8 && p.M == 4 && p.e[0] == 8 && p.e[3] == 8 && p.lambda == 0.02);
    CHECK(p.importance == CRVQ_IMPORTANCE_HESSIAN && p.beam == 1 && p.tol == 0.01 && p.max_rounds == 50);
    CHECK(p.kmeans_iters > 0 && p.seed == 0);
    p = params(CRVQ_METHOD_VQ);
    CHECK(p.M == 1 && p.lambda == 1.0);
    p = params(CRVQ_METHOD_GPTQ);
    CHECK(p.bits == 2 && p.group_size == 128 && p.damp == 0.01 && !p.act_order && p.block_size == 128);
    CHECK(strcmp(crvq_method_name(CRVQ_METHOD_RTN), "rtn") == 0);
    CHECK(strcmp(crvq_method_name(CRVQ_METHOD_CRVQ), "crvq") == 0);
    CHECK(strcmp(crvq_importance_name(CRVQ_IMPORTANCE_RANDOM), "random") == 0);
}

static void test_validation(void) {
    crvq_quant_params p = params(CRVQ_METHOD_RTN);
    static float Wbad[M * N];
    static double Hbad[N * N];
    memcpy(Wbad, W, sizeof W);
    Wbad[3 * N + 7] = NAN;
    expect_invalid(Wbad, H, M, N, &p, "W[3, 7]");
    Wbad[3 * N + 7] = INFINITY;
    expect_invalid(Wbad, H, M, N, &p, "W[3, 7]");
    memcpy(Hbad, H, sizeof H);
    Hbad[5 * N + 2] = -INFINITY;
    expect_invalid(W, Hbad, M, N, &p, "H[5, 2]");
    memcpy(Hbad, H, sizeof H);
    Hbad[1 * N + 9] += 1.0;
    expect_invalid(W, Hbad, M, N, &p, "not symmetric");
    memset(Hbad, 0, sizeof Hbad);
    expect_invalid(W, Hbad, M, N, &p, "no positive diagonal");

    expect_invalid(W, H, 0, N, &p, "positive");
    p.group_size = 48; // does not divide 128
    expect_invalid(W, H, M, N, &p, "does not divide");
    p = params(CRVQ_METHOD_RTN);
    p.bits = 9;
    expect_invalid(W, H, M, N, &p, "bits");
    p = params(CRVQ_METHOD_GPTQ);
    p.damp = -0.5;
    expect_invalid(W, H, M, N, &p, "damp");
    p = params(CRVQ_METHOD_VQ);
    p.d = 6;
    expect_invalid(W, H, M, N, &p, "does not divide");
    p = params(CRVQ_METHOD_CRVQ);
    p.e[2] = 17;
    expect_invalid(W, H, M, N, &p, "codebook 3");
    p = params(CRVQ_METHOD_CRVQ);
    p.M = CRVQ_MAX_CODEBOOKS + 1;
    expect_invalid(W, H, M, N, &p, "M must be");
    p = params(CRVQ_METHOD_CRVQ);
    p.lambda = 1.5;
    expect_invalid(W, H, M, N, &p, "lambda");
    p = params(CRVQ_METHOD_CRVQ);
    p.beam = 0;
    expect_invalid(W, H, M, N, &p, "beam");
    p = params(CRVQ_METHOD_CRVQ);
    p.tol = -1;
    expect_invalid(W, H, M, N, &p, "tol");
}

// The reported loss is Σ_r e_r H e_rᵀ, computed here the slow way.
static void test_loss(void) {
    crvq_quant_params p = params(CRVQ_METHOD_GPTQ);
    crvq_quant_result r;
    CHECK(crvq_quantize_matrix(W, M, N, H, &p, &r) == CRVQ_OK);
    double l = 0, l0 = 0;
    for (int i = 0; i < M; i++)
        for (int a = 0; a < N; a++)
            for (int b = 0; b < N; b++) {
                double ea = (double)W[i * N + a] - r.w_hat[i * N + a], eb = (double)W[i * N + b] - r.w_hat[i * N + b];
                l += ea * H[a * N + b] * eb;
                l0 += (double)W[i * N + a] * H[a * N + b] * W[i * N + b];
            }
    CHECK_NEAR(r.loss, l, 1e-9);
    CHECK_NEAR(r.loss0, l0, 1e-9);
    CHECK_NEAR(crvq_layer_loss(W, NULL, M, N, H), l0, 1e-9);
    CHECK(r.loss < r.loss0 && r.damp_added == 0 && r.seconds >= 0);
    CHECK(r.bits > 2 && r.bits < 3); // 2-bit codes plus per-group scale and zero
    crvq_quant_result_free(&r);
}

// An indefinite H is damped until it is PSD, and the damping is reported.
static void test_not_psd(void) {
    static double Hn[N * N];
    memcpy(Hn, H, sizeof H);
    double c = 3 * sqrt(Hn[0] * Hn[N + 1]); // 2x2 minor [[a, c], [c, b]] with c² > ab
    Hn[1] = Hn[N] = c;
    for (int m = CRVQ_METHOD_RTN; m <= CRVQ_METHOD_GPTQ; m++) {
        crvq_quant_params p = params((crvq_method)m);
        crvq_quant_result r;
        CHECK(crvq_quantize_matrix(W, M, N, Hn, &p, &r) == CRVQ_OK);
        CHECK_MSG(r.damp_added > 0, "%s: damp_added %g", crvq_method_name((crvq_method)m), r.damp_added);
        CHECK(isfinite(r.loss) && r.loss >= 0 && r.loss < r.loss0);
        for (int i = 0; i < M * N; i++) CHECK(isfinite(r.w_hat[i]));
        crvq_quant_result_free(&r);
    }
    // A PSD but singular H (rank N/2) needs no damping.
    static double X[N / 2 * N];
    for (int i = 0; i < N / 2 * N; i++) X[i] = sin(0.37 * i) + 0.1 * cos(1.7 * i * i);
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
            double s = 0;
            for (int t = 0; t < N / 2; t++) s += X[t * N + a] * X[t * N + b];
            Hn[a * N + b] = s / (N / 2);
        }
    crvq_quant_params p = params(CRVQ_METHOD_GPTQ);
    crvq_quant_result r;
    CHECK(crvq_quantize_matrix(W, M, N, Hn, &p, &r) == CRVQ_OK);
    CHECK(r.damp_added == 0 && isfinite(r.loss) && r.loss >= 0);
    crvq_quant_result_free(&r);
}

static void test_zero_rows(void) {
    static float Wz[M * N];
    memcpy(Wz, W, sizeof W);
    memset(Wz, 0, N * sizeof *Wz);                // row 0
    memset(Wz + 7 * N, 0, N * sizeof *Wz);        // row 7
    for (int m = CRVQ_METHOD_RTN; m <= CRVQ_METHOD_GPTQ; m++) {
        crvq_quant_params p = params((crvq_method)m);
        p.act_order = 1;
        if (m == CRVQ_METHOD_RTN) p.act_order = 0;
        crvq_quant_result r;
        CHECK(crvq_quantize_matrix(Wz, M, N, H, &p, &r) == CRVQ_OK);
        for (int j = 0; j < N; j++) CHECK(r.w_hat[j] == 0 && r.w_hat[7 * N + j] == 0);
        CHECK(isfinite(r.loss) && r.loss < r.loss0);
        crvq_quant_result_free(&r);
    }
    static float W0[M * N];
    crvq_quant_params p = params(CRVQ_METHOD_GPTQ);
    crvq_quant_result r;
    CHECK(crvq_quantize_matrix(W0, M, N, H, &p, &r) == CRVQ_OK);
    CHECK(r.loss == 0 && r.loss0 == 0);
    crvq_quant_result_free(&r);
}

static void test_synthetic(void) {
    static float W2[M * N];
    static double H2[N * N];
    CHECK(crvq_synthetic_layer(M, N, 1, W2, H2) == CRVQ_OK);
    CHECK(memcmp(W, W2, sizeof W) == 0 && memcmp(H, H2, sizeof H) == 0); // same seed, same layer
    CHECK(crvq_synthetic_layer(M, N, 2, W2, H2) == CRVQ_OK);
    CHECK(memcmp(W, W2, sizeof W) != 0);
    double max_d = 0, mean_d = 0;
    for (int j = 0; j < N; j++) {
        max_d = fmax(max_d, H[j * N + j]);
        mean_d += H[j * N + j] / N;
        for (int k = 0; k < N; k++) CHECK(H[j * N + k] == H[k * N + j]);
    }
    CHECK(max_d > 10 * mean_d); // outlier channels stand out
    CHECK(crvq_synthetic_layer(0, N, 1, W2, H2) == CRVQ_ERR_INVALID);
}

int main(void) {
    CHECK(crvq_synthetic_layer(M, N, 1, W, H) == CRVQ_OK);
    test_defaults();
    test_validation();
    test_loss();
    test_not_psd();
    test_zero_rows();
    test_synthetic();
    return check_done();
}
