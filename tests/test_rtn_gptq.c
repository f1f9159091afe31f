// test_rtn_gptq.c — the scalar baselines: RTN on hand-computed cases, GPTQ
// against an independent unblocked reference (the OBS form with an explicit
// H⁻¹ and rank-1 downdates), GPTQ ≤ RTN in loss on correlated inputs,
// GPTQ with H = I equal to RTN, act-order, block sizes, dead inputs, and
// results independent of the thread count.
#include "check.h"
#include "crvq.h"
#include "quant/quant_internal.h"

#include <lapacke.h>

// ŵ (m, n) from a scalar layer, as the container would reconstruct it.
static void reconstruct(const crvq_scalar_fit *L, float *w) {
    int ng = L->n_in / L->group_size;
    for (int r = 0; r < L->m_out; r++)
        for (int c = 0; c < L->n_in; c++) {
            size_t g = (size_t)r * ng + c / L->group_size, i = (size_t)r * L->n_in + c;
            w[i] = L->scale[g] * ((float)L->q[i] - L->zero[g]);
        }
}

static double loss_of(const crvq_scalar_fit *L, const float *W, const double *H) {
    float *w = malloc((size_t)L->m_out * L->n_in * sizeof *w);
    reconstruct(L, w);
    double l = crvq_layer_loss(W, w, L->m_out, L->n_in, H);
    free(w);
    return l;
}

static crvq_quant_params scalar_params(crvq_method m, int bits, int group) {
    crvq_quant_params p;
    crvq_quant_params_default(&p, m);
    p.bits = bits;
    p.group_size = group;
    return p;
}

static float fp16(float x) { return crvq_f16_to_f32(crvq_f32_to_f16(x)); }

static void test_rtn_hand(void) {
    // Row 0, group 0: range [-1, 2] -> scale 1, zero 1; 0.5 ties to even.
    // Row 0, group 1: all positive, the grid is widened to [0, 3].
    // Row 1, group 0: scale 0.1 is not an fp16 value; the stored one is used.
    // Row 1, group 1: all zero.
    const float W[2 * 8] = {-1, 0, 0.5f, 2, 0.5f, 1, 1.5f, 3, 0, 0.05f, 0.1f, 0.3f, 0, 0, 0, 0};
    crvq_quant_params p = scalar_params(CRVQ_METHOD_RTN, 2, 4);
    crvq_scalar_fit L;
    CHECK(crvq_rtn_quantize(W, 2, 8, &p, &L) == CRVQ_OK);
    float w[16];
    reconstruct(&L, w);
    const float want0[8] = {-1, 0, 0, 2, 0, 1, 2, 3};
    for (int i = 0; i < 8; i++) CHECK_MSG(w[i] == want0[i], "w[%d] = %g, want %g", i, w[i], want0[i]);
    CHECK(L.scale[0] == 1 && L.zero[0] == 1 && L.scale[1] == 1 && L.zero[1] == 0);
    float s = fp16(0.3f / 3);
    CHECK(L.scale[2] == s && s != 0.1f && L.zero[2] == 0);
    CHECK(L.q[8] == 0 && L.q[9] == 1 && L.q[10] == 1 && L.q[11] == 3); // s < 0.1: 0.05/s just above 1/2
    for (int i = 12; i < 16; i++) CHECK(w[i] == 0);
    for (int i = 0; i < 4; i++) CHECK(w[8 + i] == s * L.q[8 + i]);
    crvq_scalar_fit_free(&L);

    // 1 bit: two levels, one of them 0.
    const float W1[4] = {-0.25f, -1, 0.75f, 0.5f};
    p = scalar_params(CRVQ_METHOD_RTN, 1, 4);
    CHECK(crvq_rtn_quantize(W1, 1, 4, &p, &L) == CRVQ_OK);
    reconstruct(&L, w);
    CHECK(L.scale[0] == 1.75f && L.zero[0] == 1);
    CHECK(w[0] == 0 && w[1] == -1.75f && w[2] == 0 && w[3] == 0);
    crvq_scalar_fit_free(&L);
}

// On random data every in-range weight is within half a step of its value.
static void test_rtn_error_bound(void) {
    int m = 8, n = 256;
    float *W = malloc((size_t)m * n * sizeof *W), *w = malloc((size_t)m * n * sizeof *w);
    double *H = malloc((size_t)n * n * sizeof *H);
    CHECK(crvq_synthetic_layer(m, n, 3, W, H) == CRVQ_OK);
    for (int bits = 1; bits <= 8; bits++) {
        crvq_quant_params p = scalar_params(CRVQ_METHOD_RTN, bits, 64);
        crvq_scalar_fit L;
        CHECK(crvq_rtn_quantize(W, m, n, &p, &L) == CRVQ_OK);
        reconstruct(&L, w);
        int bad = 0;
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                size_t i = (size_t)r * n + c;
                float s = L.scale[r * (n / 64) + c / 64];
                // fp16 rounding of the scale may push the extreme values just past the grid
                bad += fabs((double)W[i] - w[i]) > 0.5 * s * (1 + 1e-3) + 1e-3 * fabs((double)W[i]);
            }
        CHECK_MSG(bad == 0, "bits %d: %d weights off the grid", bits, bad);
        crvq_scalar_fit_free(&L);
    }
    free(W), free(w), free(H);
}

// GPTQ as first written (Frantar et al., eq. 2-3): explicit H⁻¹, per column
// w_k −= err·Hinv[j,k]/Hinv[j,j], then Hinv −= Hinv[:,j] Hinv[j,:] / Hinv[j,j].
static double reference_gptq(const float *W, int m, int n, const double *H, double damp, int bits, int gs,
                             uint8_t *q_out) {
    double *Hi = malloc((size_t)n * n * sizeof *Hi), *Hr = malloc((size_t)n * n * sizeof *Hr);
    double *w = malloc((size_t)n * sizeof *w);
    float *what = malloc((size_t)m * n * sizeof *what);
    double mean = 0;
    for (int j = 0; j < n; j++) mean += H[(size_t)j * n + j] / n;
    memcpy(Hi, H, (size_t)n * n * sizeof *Hi);
    for (int j = 0; j < n; j++) Hi[(size_t)j * n + j] += damp * mean;
    LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, Hi, n);
    LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', n, Hi, n);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < a; b++) Hi[(size_t)a * n + b] = Hi[(size_t)b * n + a];
    int maxq = (1 << bits) - 1;
    for (int r = 0; r < m; r++) {
        memcpy(Hr, Hi, (size_t)n * n * sizeof *Hr);
        for (int j = 0; j < n; j++) w[j] = W[(size_t)r * n + j];
        float s = 1, z = 0;
        for (int j = 0; j < n; j++) {
            if (j % gs == 0) {
                double lo = 0, hi = 0;
                for (int t = j; t < j + gs; t++) lo = fmin(lo, w[t]), hi = fmax(hi, w[t]);
                s = hi > lo ? fp16((float)((hi - lo) / maxq)) : 1.0f;
                z = (float)nearbyint(-lo / s);
                z = z > maxq ? (float)maxq : z;
            }
            double qd = nearbyint(w[j] / s) + z;
            int q = qd < 0 ? 0 : qd > maxq ? maxq : (int)qd;
            q_out[(size_t)r * n + j] = (uint8_t)q;
            float v = s * ((float)q - z);
            what[(size_t)r * n + j] = v;
            double d = Hr[(size_t)j * n + j], err = (w[j] - v) / d;
            for (int k = j + 1; k < n; k++) w[k] -= err * Hr[(size_t)j * n + k];
            for (int a = j + 1; a < n; a++)
                for (int b = j + 1; b < n; b++)
                    Hr[(size_t)a * n + b] -= Hr[(size_t)a * n + j] * Hr[(size_t)j * n + b] / d;
        }
    }
    double l = crvq_layer_loss(W, what, m, n, H);
    free(Hi), free(Hr), free(w), free(what);
    return l;
}

static void test_gptq(void) {
    int m = 24, n = 96;
    float *W = malloc((size_t)m * n * sizeof *W);
    double *H = malloc((size_t)n * n * sizeof *H);
    uint8_t *q_ref = malloc((size_t)m * n);
    CHECK(crvq_synthetic_layer(m, n, 11, W, H) == CRVQ_OK);
    for (int bits = 2; bits <= 4; bits++) {
        crvq_quant_params p = scalar_params(CRVQ_METHOD_GPTQ, bits, 32);
        crvq_scalar_fit G, R;
        CHECK(crvq_gptq_quantize(W, m, n, H, &p, &G) == CRVQ_OK);
        p.method = CRVQ_METHOD_RTN;
        CHECK(crvq_rtn_quantize(W, m, n, &p, &R) == CRVQ_OK);
        double lg = loss_of(&G, W, H), lr = loss_of(&R, W, H);
        CHECK_MSG(lg < lr, "bits %d: gptq loss %g >= rtn loss %g", bits, lg, lr);

        // Same decisions as the unblocked reference (a rounding tie may flip one).
        double lref = reference_gptq(W, m, n, H, p.damp, bits, 32, q_ref);
        int diff = 0;
        for (size_t i = 0; i < (size_t)m * n; i++) diff += G.q[i] != q_ref[i];
        CHECK_MSG(diff <= m * n / 200, "bits %d: %d codes differ from the reference", bits, diff);
        CHECK_NEAR(lg, lref, 1e-3);

        // Block size does not change the result (1, a divisor of the group, past n).
        const int block_sizes[] = {1, 16, 48, 2 * n};
        for (int k = 0; k < 4; k++) {
            int bs = block_sizes[k];
            crvq_quant_params pb = scalar_params(CRVQ_METHOD_GPTQ, bits, 32);
            pb.block_size = bs;
            crvq_scalar_fit B;
            CHECK(crvq_gptq_quantize(W, m, n, H, &pb, &B) == CRVQ_OK);
            int bd = 0;
            for (size_t i = 0; i < (size_t)m * n; i++) bd += B.q[i] != G.q[i];
            CHECK_MSG(bd <= m * n / 200, "block %d: %d codes differ", bs, bd);
            CHECK_NEAR(loss_of(&B, W, H), lg, 1e-3);
            crvq_scalar_fit_free(&B);
        }

        // Act-order: static groups are RTN's grids; the loss still beats RTN.
        crvq_quant_params pa = scalar_params(CRVQ_METHOD_GPTQ, bits, 32);
        pa.act_order = 1;
        crvq_scalar_fit A;
        CHECK(crvq_gptq_quantize(W, m, n, H, &pa, &A) == CRVQ_OK);
        size_t ng = (size_t)m * (n / 32);
        CHECK(memcmp(A.scale, R.scale, ng * sizeof *A.scale) == 0);
        CHECK(memcmp(A.zero, R.zero, ng * sizeof *A.zero) == 0);
        double la = loss_of(&A, W, H);
        CHECK_MSG(la < lr, "bits %d: act-order loss %g >= rtn loss %g", bits, la, lr);
        crvq_scalar_fit_free(&A);
        crvq_scalar_fit_free(&G);
        crvq_scalar_fit_free(&R);
    }

    // H = I: no error feedback, so GPTQ is RTN, codes and grids alike.
    for (size_t i = 0; i < (size_t)n * n; i++) H[i] = i % (n + 1) == 0;
    crvq_quant_params p = scalar_params(CRVQ_METHOD_GPTQ, 3, 32);
    crvq_scalar_fit G, R;
    CHECK(crvq_gptq_quantize(W, m, n, H, &p, &G) == CRVQ_OK);
    CHECK(crvq_rtn_quantize(W, m, n, &p, &R) == CRVQ_OK);
    CHECK(memcmp(G.q, R.q, (size_t)m * n) == 0);
    CHECK(memcmp(G.scale, R.scale, (size_t)m * (n / 32) * sizeof *G.scale) == 0);
    CHECK(memcmp(G.zero, R.zero, (size_t)m * (n / 32) * sizeof *G.zero) == 0);
    crvq_scalar_fit_free(&G);
    crvq_scalar_fit_free(&R);
    free(W), free(H), free(q_ref);
}

// A dead input (H[j,:] = 0) gets weight 0; the rest is quantized as usual.
static void test_dead_input(void) {
    int m = 8, n = 64;
    float *W = malloc((size_t)m * n * sizeof *W), *w = malloc((size_t)m * n * sizeof *w);
    double *H = malloc((size_t)n * n * sizeof *H);
    CHECK(crvq_synthetic_layer(m, n, 5, W, H) == CRVQ_OK);
    for (int j = 0; j < n; j++) H[(size_t)5 * n + j] = H[(size_t)j * n + 5] = 0;
    crvq_quant_params p = scalar_params(CRVQ_METHOD_GPTQ, 2, 16);
    p.act_order = 1;
    crvq_scalar_fit G;
    CHECK(crvq_gptq_quantize(W, m, n, H, &p, &G) == CRVQ_OK);
    reconstruct(&G, w);
    for (int r = 0; r < m; r++) CHECK(w[(size_t)r * n + 5] == 0);
    CHECK(isfinite(crvq_layer_loss(W, w, m, n, H)));
    crvq_scalar_fit_free(&G);
    free(W), free(w), free(H);
}

// Rows are independent, so the codes do not depend on the thread count.
static void test_threads(void) {
    int m = 64, n = 128;
    float *W = malloc((size_t)m * n * sizeof *W);
    double *H = malloc((size_t)n * n * sizeof *H);
    CHECK(crvq_synthetic_layer(m, n, 9, W, H) == CRVQ_OK);
    crvq_quant_params p = scalar_params(CRVQ_METHOD_GPTQ, 2, 64);
    crvq_scalar_fit a, b;
    crvq_set_threads(1);
    CHECK(crvq_gptq_quantize(W, m, n, H, &p, &a) == CRVQ_OK);
    crvq_set_threads(2);
    CHECK(crvq_gptq_quantize(W, m, n, H, &p, &b) == CRVQ_OK);
    CHECK(memcmp(a.q, b.q, (size_t)m * n) == 0);
    crvq_scalar_fit_free(&a);
    crvq_scalar_fit_free(&b);
    free(W), free(H);
}

int main(void) {
    test_rtn_hand();
    test_rtn_error_bound();
    test_gptq();
    test_dead_input();
    test_threads();
    return check_done();
}
