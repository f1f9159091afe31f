// test_half_dense.c — dense layers kept in bf16 / fp16 (kernels/half_rows.h,
// kernels/tiled.h, model/linear.c):
// - the widening kernels: every one of the 65536 bit patterns of each type,
//   AVX2 against the scalar reference, bit for bit (NaNs: both NaN); the
//   one-token product, AVX2 against the scalar reference, bit for bit;
// - y = x Wᵀ of a 16-bit layer against a float64 product of the widened
//   weights, within the float32 rounding bound 2 n_in 2^-24 Σ|w x|, at one
//   token (decode) and a batch (prefill), with 1 and 2 threads, and equal
//   to the float32 layer's y to the same bound;
// - the backward dx = dy W against the float64 product, same bound;
// - rows read through crvq_linear_dense_rows equal the widened values.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crvq.h"
#include "kernels/half_rows.h"
#include "kernels/isa.h"
#include "model/linear.h"
#include "quant/rng.h"

static int same_float(float a, float b) { return (a != a && b != b) || memcmp(&a, &b, 4) == 0; }

static void test_widening(void) {
    uint16_t *all = malloc(65536 * sizeof *all);
    float *a = malloc(65536 * sizeof *a), *b = malloc(65536 * sizeof *b);
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    const crvq_dtype types[2] = {CRVQ_BF16, CRVQ_F16};
    for (int t = 0; t < 2; t++) {
        crvq_half_to_f32_scalar(all, types[t], 65536, a);
        int bad = 0;
        for (int i = 0; i < 65536; i++) {
            float want = types[t] == CRVQ_BF16 ? crvq_bf16_to_f32(all[i]) : crvq_f16_to_f32(all[i]);
            bad += !same_float(a[i], want);
        }
        CHECK_MSG(bad == 0, "%s scalar: %d values differ from the reference conversion", crvq_dtype_name(types[t]), bad);
        if (crvq_isa_supported() < CRVQ_ISA_AVX2) continue;
        // an odd count and offset: the vector loop and the scalar tail both run
        crvq_half_to_f32_avx2(all + 3, types[t], 65533, b + 3);
        bad = 0;
        for (int i = 3; i < 65536; i++) bad += !same_float(a[i], b[i]);
        CHECK_MSG(bad == 0, "%s avx2: %d values differ from the scalar reference", crvq_dtype_name(types[t]), bad);
    }
    if (crvq_isa_supported() < CRVQ_ISA_AVX2) printf("avx2 widening not run: this CPU has no AVX2\n");
    free(all);
    free(a);
    free(b);
}

// x (n, n_in), W (m, n_in): ref (n, m) = x Wᵀ in float64 and abs (n, m) = |x| |W|ᵀ.
static void reference(const float *x, const float *W, int n, int m, int n_in, double *ref, double *abs_) {
    for (int t = 0; t < n; t++)
        for (int o = 0; o < m; o++) {
            double s = 0, a = 0;
            for (int i = 0; i < n_in; i++) {
                double p = (double)x[(size_t)t * n_in + i] * W[(size_t)o * n_in + i];
                s += p;
                a += fabs(p);
            }
            ref[(size_t)t * m + o] = s;
            abs_[(size_t)t * m + o] = a;
        }
}

// Entries of y outside |y - ref| <= 2 k 2^-24 abs (float32 sums of k terms).
static int outside(const float *y, const double *ref, const double *abs_, size_t len, int k) {
    int bad = 0;
    for (size_t i = 0; i < len; i++) bad += fabs(y[i] - ref[i]) > 2.0 * k * 0x1p-24 * abs_[i];
    return bad;
}

static void test_products(crvq_dtype dt) {
    enum { M = 197, N_IN = 300, N = 40 }; // odd sizes: partial tiles
    crvq_rng g;
    crvq_rng_init(&g, 3, dt);
    uint16_t *w16 = malloc(sizeof(uint16_t) * M * N_IN);
    float *w = malloc(sizeof(float) * M * N_IN), *x = malloc(sizeof(float) * N * N_IN);
    float *y16 = malloc(sizeof(float) * N * M), *y32 = malloc(sizeof(float) * N * M);
    float *dy = malloc(sizeof(float) * N * M), *dx = malloc(sizeof(float) * N * N_IN);
    double *ref = malloc(sizeof(double) * N * (M > N_IN ? M : N_IN)), *abs_ = malloc(sizeof(double) * N * (M > N_IN ? M : N_IN));
    for (int i = 0; i < M * N_IN; i++) {
        float v = (float)((2 * crvq_rng_uniform(&g) - 1) * 0.1);
        uint32_t u;
        memcpy(&u, &v, 4);
        w16[i] = dt == CRVQ_BF16 ? (uint16_t)(u >> 16) : crvq_f32_to_f16(v);
    }
    for (int i = 0; i < N * N_IN; i++) x[i] = (float)(2 * crvq_rng_uniform(&g) - 1);
    for (int i = 0; i < N * M; i++) dy[i] = (float)(2 * crvq_rng_uniform(&g) - 1);
    const crvq_linear L16 = {.kind = CRVQ_LINEAR_DENSE, .n_out = M, .n_in = N_IN, .w16 = w16, .w16_dtype = dt};
    crvq_linear_dense_rows(&L16, 0, M, w);
    int bad = 0;
    for (int i = 0; i < M * N_IN; i++)
        bad += !same_float(w[i], dt == CRVQ_BF16 ? crvq_bf16_to_f32(w16[i]) : crvq_f16_to_f32(w16[i]));
    CHECK_MSG(bad == 0, "%s: %d rows values differ from their widening", crvq_dtype_name(dt), bad);
    const crvq_linear L32 = {.kind = CRVQ_LINEAR_DENSE, .n_out = M, .n_in = N_IN, .w = w};
    const int max_threads = omp_get_max_threads();
    for (int n = 1; n <= N; n += N - 1) {
        reference(x, w, n, M, N_IN, ref, abs_);
        for (int th = 1; th <= 2; th++) {
            omp_set_num_threads(th);
            crvq_linear_forward(&L16, x, n, y16);
            crvq_linear_forward(&L32, x, n, y32);
            CHECK_MSG(outside(y16, ref, abs_, (size_t)n * M, N_IN) == 0, "%s forward, %d tokens, %d threads",
                      crvq_dtype_name(dt), n, th);
            CHECK_MSG(outside(y32, ref, abs_, (size_t)n * M, N_IN) == 0, "float32 forward, %d tokens", n);
        }
    }
    omp_set_num_threads(max_threads);
    // backward: dx (N, N_IN) = dy (N, M) · W (M, N_IN), i.e. x Wᵀ with x = dy and W = Wᵀ
    float *wt = malloc(sizeof(float) * M * N_IN);
    for (int o = 0; o < M; o++)
        for (int i = 0; i < N_IN; i++) wt[(size_t)i * M + o] = w[(size_t)o * N_IN + i];
    reference(dy, wt, N, N_IN, M, ref, abs_);
    crvq_linear_backward(&L16, NULL, dy, N, dx, 0, NULL, NULL);
    CHECK_MSG(outside(dx, ref, abs_, (size_t)N * N_IN, M) == 0, "%s backward", crvq_dtype_name(dt));
    // accumulate: dx += dy W once more doubles it
    crvq_linear_backward(&L16, NULL, dy, N, dx, 1, NULL, NULL);
    for (size_t i = 0; i < (size_t)N * N_IN; i++) ref[i] *= 2, abs_[i] *= 2;
    CHECK_MSG(outside(dx, ref, abs_, (size_t)N * N_IN, M + 1) == 0, "%s backward, accumulated", crvq_dtype_name(dt));
    free(wt);
    free(w16), free(w), free(x), free(y16), free(y32), free(dy), free(dx), free(ref), free(abs_);
}

// The one-token product: the AVX2 variant gives the scalar reference's bits
// (n_in with and without a tail of n_in % 32, one shorter than a block).
static void test_matvec(void) {
    const int widths[3] = {300, 256, 7}, m = 37;
    crvq_rng g;
    crvq_rng_init(&g, 9, 0);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++) {
            const int n_in = widths[k];
            const crvq_dtype dt = t ? CRVQ_F16 : CRVQ_BF16;
            uint16_t *w = malloc(sizeof(uint16_t) * m * n_in);
            float *x = malloc(sizeof(float) * n_in), *a = malloc(sizeof(float) * m), *b = malloc(sizeof(float) * m);
            for (int i = 0; i < m * n_in; i++) w[i] = crvq_f32_to_f16((float)(2 * crvq_rng_uniform(&g) - 1));
            if (dt == CRVQ_BF16)
                for (int i = 0; i < m * n_in; i++) {
                    float v = crvq_f16_to_f32(w[i]);
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    w[i] = (uint16_t)(u >> 16);
                }
            for (int i = 0; i < n_in; i++) x[i] = (float)(2 * crvq_rng_uniform(&g) - 1);
            const crvq_half_matrix H = {w, dt, n_in};
            crvq_half_matvec_scalar(&H, x, 2, m, a);
            if (crvq_isa_supported() >= CRVQ_ISA_AVX2) {
                crvq_half_matvec_avx2(&H, x, 2, m, b);
                int bad = 0;
                for (int r = 0; r < m - 2; r++) bad += !same_float(a[r], b[r]);
                CHECK_MSG(bad == 0, "%s matvec n_in %d: %d rows differ from the scalar reference",
                          crvq_dtype_name(dt), n_in, bad);
            }
            free(w), free(x), free(a), free(b);
        }
}

int main(void) {
    test_widening();
    test_matvec();
    test_products(CRVQ_BF16);
    test_products(CRVQ_F16);
    return check_done();
}
