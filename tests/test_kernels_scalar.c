// test_kernels_scalar.c — scalar-quantized (RTN / GPTQ) inference kernels
// (src/kernels/sq_*) against a float64 product with the explicitly
// dequantized matrix, for every kernel variant this CPU runs, both paths
// (per-token matvec, tiles + sgemm), every bit width 1..8 (fast paths 2, 4,
// 8 and the general one), group sizes that are and are not multiples of the
// vector width, and rows whose packed length is not a whole byte.
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "linear_util.h"
#include "crvq.h"
#include "kernels/isa.h"
#include "kernels/sq_weights.h"
#include "model/linear.h"
#include "quant/rng.h"
#include "quant/scalar.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng_next(void) { return crvq_splitmix64(&rng_state); }
static float rng_unit(void) { return (float)((rng_next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

// A layer as RTN / GPTQ fit it: fp16 scales, integer zero points in range
// (stored with crvq_scalar_emit, as they are).
static void make_layer(int m, int n_in, int bits, int gs, crvq_scalar_fit *L) {
    L->m_out = m;
    L->n_in = n_in;
    L->bits = bits;
    L->group_size = gs;
    const size_t ng = (size_t)m * (n_in / gs);
    L->q = malloc((size_t)m * n_in);
    L->scale = malloc(ng * sizeof(float));
    L->zero = malloc(ng * sizeof(float));
    for (size_t i = 0; i < (size_t)m * n_in; i++) L->q[i] = (uint8_t)(rng_next() & ((1u << bits) - 1));
    for (size_t i = 0; i < ng; i++) {
        L->scale[i] = crvq_f16_to_f32(crvq_f32_to_f16(0.01f + 0.1f * fabsf(rng_unit())));
        L->zero[i] = (float)(rng_next() % (1u << bits));
    }
}

static void free_layer(crvq_scalar_fit *L) {
    free(L->q);
    free(L->scale);
    free(L->zero);
}

#define TOL 1e-5 // of Σ|w·x|; see test_kernels_vq.c

static void test_shape(int m, int n_in, int bits, int gs) {
    crvq_scalar_fit L;
    make_layer(m, n_in, bits, gs, &L);
    crvq_scalar_layer S;
    CHECK(crvq_scalar_emit(&L, &S) == CRVQ_OK);
    crvq_scalar_weights *W = NULL;
    CHECK_MSG(crvq_scalar_weights_from_layer(&S, "test", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (!W) return;
    crvq_scalar_weights_take(W, &S);
    CHECK(W->row_bytes == ((size_t)n_in * bits + 7) / 8);

    const int max_n = 64, toks[] = {1, 3, 17, 64};
    double *w = malloc((size_t)m * n_in * sizeof(double));
    for (int r = 0; r < m; r++)
        for (int c = 0; c < n_in; c++) {
            size_t gi = (size_t)r * (n_in / gs) + c / gs;
            w[(size_t)r * n_in + c] = (double)L.scale[gi] * ((double)L.q[(size_t)r * n_in + c] - L.zero[gi]);
        }
    float *x = malloc((size_t)max_n * n_in * sizeof(float));
    float *y = malloc((size_t)max_n * m * sizeof(float)), *y_mv = malloc((size_t)max_n * m * sizeof(float));
    float *wd = malloc((size_t)m * n_in * sizeof(float));
    double *ref = malloc((size_t)max_n * m * sizeof(double)), *mag = malloc((size_t)max_n * m * sizeof(double));
    for (size_t i = 0; i < (size_t)max_n * n_in; i++) x[i] = rng_unit();
    for (int t = 0; t < max_n; t++)
        for (int r = 0; r < m; r++) {
            double a = 0.0, b = 0.0;
            for (int c = 0; c < n_in; c++) {
                double p = w[(size_t)r * n_in + c] * x[(size_t)t * n_in + c];
                a += p;
                b += fabs(p);
            }
            ref[(size_t)t * m + r] = a;
            mag[(size_t)t * m + r] = b + 1e-30;
        }

    for (int isa = CRVQ_ISA_SCALAR; isa <= (int)crvq_isa_supported(); isa++) {
        crvq_isa_force((crvq_isa)isa);
        const char *name = crvq_isa_name((crvq_isa)isa);
        // the expansion is the reference formula scale * (q - zero), rounded once: exact
        crvq_scalar_dequant_rows(W, 0, m, wd);
        size_t bad = 0;
        for (size_t i = 0; i < (size_t)m * n_in; i++) bad += wd[i] != (float)w[i];
        CHECK_MSG(bad == 0, "%s dequant m=%d n_in=%d bits=%d gs=%d: %zu values differ", name, m, n_in, bits, gs, bad);

        for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
            const int n = toks[ti];
            const size_t ny = (size_t)n * m;
            double e_mv = 0.0, e_t = 0.0, e_f = 0.0, agree = 0.0;
            crvq_scalar_forward_matvec(W, x, n, y_mv);
            for (size_t i = 0; i < ny; i++) e_mv = fmax(e_mv, fabs(y_mv[i] - ref[i]) / mag[i]);
            crvq_scalar_forward_tiled(W, x, n, y, 5);
            for (size_t i = 0; i < ny; i++) {
                e_t = fmax(e_t, fabs(y[i] - ref[i]) / mag[i]);
                agree = fmax(agree, fabs(y[i] - y_mv[i]) / mag[i]);
            }
            crvq_scalar_forward(W, x, n, y);
            for (size_t i = 0; i < ny; i++) e_f = fmax(e_f, fabs(y[i] - ref[i]) / mag[i]);
            // fmax drops NaN: check the outputs are finite separately
            int finite = 1;
            for (size_t i = 0; i < ny; i++) finite &= isfinite(y[i]) && isfinite(y_mv[i]);
            CHECK_MSG(finite && e_mv <= TOL && e_t <= TOL && e_f <= TOL && agree <= 2 * TOL,
                      "%s n=%d m=%d n_in=%d bits=%d gs=%d: matvec %.3g tiled %.3g forward %.3g agree %.3g", name,
                      n, m, n_in, bits, gs, e_mv, e_t, e_f, agree);
        }
    }
    crvq_isa_force(CRVQ_ISA_AVX512);
    free(w);
    free(x);
    free(y);
    free(y_mv);
    free(wd);
    free(ref);
    free(mag);
    crvq_scalar_weights_free(W);
    free_layer(&L);
}

static void test_pack(void) {
    // 3-bit codes 0..7 repeated: LSB-first bit stream 000 100 010 110 001 101 011 111
    uint8_t q[8] = {0, 1, 2, 3, 4, 5, 6, 7}, p[3];
    crvq_scalar_pack(q, 1, 8, 3, p);
    CHECK(p[0] == 0x88 && p[1] == 0xc6 && p[2] == 0xfa);
    uint8_t q2[4] = {3, 0, 1, 2}, p2;
    crvq_scalar_pack(q2, 1, 4, 2, &p2);
    CHECK(p2 == 0x93); // 11 00 01 10 from the low bits up
}

// The container's path (arrays that stay where they are) against the same
// layer stored by crvq_scalar_emit.
static void test_stored(void) {
    crvq_scalar_fit L;
    make_layer(6, 64, 4, 32, &L);
    uint8_t packed[6 * 32];
    crvq_scalar_pack(L.q, 6, 64, 4, packed);
    uint16_t sc[12], ze[12];
    for (int i = 0; i < 12; i++) {
        sc[i] = crvq_f32_to_f16(L.scale[i]);
        ze[i] = crvq_f32_to_f16(L.zero[i]);
    }
    crvq_scalar_layer raw = {.m_out = 6, .n_in = 64, .bits = 4, .group_size = 32, .q = packed, .scale = sc,
                             .zero = ze};
    crvq_scalar_layer S;
    CHECK(crvq_scalar_emit(&L, &S) == CRVQ_OK);
    CHECK(!memcmp(S.q, packed, sizeof packed) && !memcmp(S.scale, sc, sizeof sc) && !memcmp(S.zero, ze, sizeof ze));
    crvq_scalar_weights *W = NULL, *W2 = NULL;
    CHECK_MSG(crvq_scalar_weights_from_layer(&raw, "raw", &W) == CRVQ_OK, "%s", crvq_last_error());
    CHECK_MSG(crvq_scalar_weights_from_layer(&S, "layer", &W2) == CRVQ_OK, "%s", crvq_last_error());
    if (W && W2) {
        CHECK(W->q == packed); // not copied
        crvq_scalar_weights_take(W2, &S);
        CHECK(crvq_scalar_weights_bytes(W) == 6 * 32 + 12 * 4);
        const crvq_linear a = {.kind = CRVQ_LINEAR_SCALAR, .n_out = 6, .n_in = 64, .sq = W};
        const crvq_linear b = {.kind = CRVQ_LINEAR_SCALAR, .n_out = 6, .n_in = 64, .sq = W2};
        test_linear_pair(a, b, rng_unit);
    }
    crvq_scalar_weights_free(W);
    crvq_scalar_weights_free(W2);
    crvq_scalar_layer_free(&S); // (nothing left when W2 took it)
    W = NULL;
    raw.bits = 9;
    CHECK(crvq_scalar_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    raw.bits = 4;
    raw.group_size = 48;
    CHECK(crvq_scalar_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    CHECK(strstr(crvq_last_error(), "raw") != NULL);
    raw.group_size = 32;
    raw.zero = NULL;
    CHECK(crvq_scalar_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    free_layer(&L);
}

int main(void) {
    printf("kernel variants: scalar..%s\n", crvq_isa_name(crvq_isa_supported()));
    test_pack();
    test_stored();
    for (int bits = 1; bits <= 8; bits++) {
        test_shape(9, 256, bits, 128); // whole vectors everywhere
        test_shape(5, 96, bits, 32);
        test_shape(7, 48, bits, 16);  // AVX-512: one vector per group
        test_shape(4, 40, bits, 8);   // AVX-512 falls back to scalar; AVX2 does not
        test_shape(3, 36, bits, 12);  // both fall back; odd bits leave a partial last byte
    }
    test_shape(1, 64, 2, 64); // a single row
    test_shape(33, 128, 4, 128);
    test_shape(130, 2048, 2, 128); // large enough for the threaded matvec
    test_shape(67, 4096, 3, 64);
    return check_done();
}
