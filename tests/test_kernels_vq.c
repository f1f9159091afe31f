// test_kernels_vq.c — VQ / CRVQ inference kernels (src/kernels/vq_*) against
// a float64 product with an explicitly dequantized matrix, for every kernel
// variant this CPU runs, both paths (look-up tables, tiles + sgemm), and
// shapes that hit the vector tails: odd d, group counts that are not a
// multiple of 16, n_crit = 0 and = n_groups, M = 1..4, e = 4, 8, 10, 12.
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "linear_util.h"
#include "crvq.h"
#include "kernels/isa.h"
#include "kernels/vq_lut.h"
#include "kernels/vq_weights.h"
#include "model/linear.h"
#include "quant/vq_fit.h"
#include "quant/rng.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { return crvq_splitmix64(&rng_state); }
static float rng_unit(void) { return (float)((rng_next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }
// fp16-representable, as the weights store codebooks and scales in fp16
static float rng_half(void) { return crvq_f16_to_f32(crvq_f32_to_f16(rng_unit())); }

typedef struct shape {
    int m, n_in, d, M, e[4], n_crit, permuted;
} shape;

// The layer as the quantizer holds it (float32, fp16-exact values); the
// tests store it with crvq_vq_emit, as the quantizer does.
static void make_layer(const shape *s, crvq_vq_fit *L) {
    memset(L, 0, sizeof *L);
    L->m_out = s->m;
    L->n_in = s->n_in;
    L->d = s->d;
    L->M = s->M;
    L->n_groups = s->n_in / s->d;
    L->n_crit = s->n_crit;
    for (int k = 0; k < s->M; k++) {
        L->e[k] = s->e[k];
        size_t nk = ((size_t)1 << s->e[k]) * s->d;
        L->codebooks[k] = malloc(nk * sizeof(float));
        for (size_t i = 0; i < nk; i++) L->codebooks[k][i] = rng_half();
    }
    size_t n0 = (size_t)s->m * L->n_groups, nx = (size_t)s->m * s->n_crit * (s->M - 1);
    L->codes = malloc(n0 * 2);
    for (size_t i = 0; i < n0; i++) L->codes[i] = (uint16_t)(rng_next() & ((1u << s->e[0]) - 1));
    if (nx) {
        L->codes_ext = malloc(nx * 2);
        for (size_t i = 0; i < nx; i++) {
            int k = 1 + (int)(i % (size_t)(s->M - 1));
            L->codes_ext[i] = (uint16_t)(rng_next() & ((1u << s->e[k]) - 1));
        }
    }
    L->scales = malloc((size_t)s->m * sizeof(float));
    for (int r = 0; r < s->m; r++) L->scales[r] = crvq_f16_to_f32(crvq_f32_to_f16(0.25f + fabsf(rng_unit())));
    if (s->permuted) {
        L->perm = malloc((size_t)s->n_in * sizeof(int32_t));
        for (int j = 0; j < s->n_in; j++) L->perm[j] = j;
        for (int j = s->n_in - 1; j > 0; j--) { // Fisher-Yates
            int i = (int)(rng_next() % (uint64_t)(j + 1));
            int32_t t = L->perm[i];
            L->perm[i] = L->perm[j];
            L->perm[j] = t;
        }
    }
}

static void free_layer(crvq_vq_fit *L) {
    for (int k = 0; k < L->M; k++) free(L->codebooks[k]);
    free(L->codes);
    free(L->codes_ext);
    free(L->scales);
    free(L->perm);
}

// Ŵ in float64, original column order, straight from the definition.
static double *dequant_ref(const crvq_vq_fit *L) {
    double *w = calloc((size_t)L->m_out * L->n_in, sizeof(double));
    const int d = L->d, E = L->M - 1;
    for (int r = 0; r < L->m_out; r++)
        for (int g = 0; g < L->n_groups; g++)
            for (int j = 0; j < d; j++) {
                double v = L->codebooks[0][(size_t)L->codes[(size_t)r * L->n_groups + g] * d + j];
                if (g < L->n_crit)
                    for (int k = 1; k <= E; k++)
                        v += L->codebooks[k][(size_t)L->codes_ext[((size_t)r * L->n_crit + g) * E + k - 1] * d + j];
                int col = g * d + j;
                if (L->perm) col = L->perm[col];
                w[(size_t)r * L->n_in + col] = L->scales[r] * v;
            }
    return w;
}

// fp32 sums in any order stay within ~n·eps of Σ|w·x| in the worst case and
// ~sqrt(n)·eps typically; 1e-5 of Σ|w·x| allows the worst case up to n ~ 170
// and the typical one far beyond the sizes here.
#define TOL 1e-5

// Largest |y - ref| / Σ|w·x| over the batch.
static double rel_err(const float *y, const double *ref, const double *mag, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(y[i] - ref[i]) / (mag[i] + 1e-30);
        if (!(e <= worst)) worst = e; // NaN propagates as a failure
    }
    return worst;
}

// The quantized tables' part of the one-token path's error (vq_lut.h), per
// token: Σ over chunks of its tables' count times the largest error of an
// entry, s / 256 with s < 2 max|v| / 127 (v: the chunk's float entries,
// here in float64 from W's float codebooks; 1.001 covers the float32
// tables' own rounding). Row r's sum is off by at most |scale_r| times
// this, on top of TOL for the float sums. 0 when W has no tiled codes.
static double qlut_bound(const crvq_vq_weights *W, const float *x) {
    if (!W->tiles8) return 0.0;
    const int d = W->d, E = W->M - 1;
    double bound = 0.0;
    for (int part = 0; part < 2; part++) {
        const int L = part ? W->n_ext : W->n_groups;
        for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
            const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
            double amax = 0.0;
            for (int l = l0; l < l1; l++) {
                const int g = part ? l / E : l, k = part ? l % E + 1 : 0;
                for (int c = 0; c < 1 << W->e[k]; c++) {
                    double v = 0.0;
                    for (int j = 0; j < d; j++) {
                        const int col = W->perm ? W->perm[g * d + j] : g * d + j;
                        v += (double)x[col] * W->cb[k][(size_t)c * d + j];
                    }
                    amax = fabs(v) > amax ? fabs(v) : amax;
                }
            }
            bound += (l1 - l0) * 2.0 * amax / (127.0 * 256.0) * 1.001;
        }
    }
    return bound;
}

// Largest (|y - ref| - |scale_r| qlut_bound) / Σ|w·x| over the batch: what
// the one-token path adds to the quantized tables' own rounding.
static double lut_err(const crvq_vq_weights *W, const float *x, const float *y, const double *ref,
                      const double *mag, int n) {
    double worst = 0.0;
    for (int t = 0; t < n; t++) {
        const double q = qlut_bound(W, x + (size_t)t * W->n_in);
        for (int r = 0; r < W->m_out; r++) {
            const size_t i = (size_t)t * W->m_out + r;
            double e = (fabs(y[i] - ref[i]) - fabs(W->scales[r]) * q) / (mag[i] + 1e-30);
            if (!(e <= worst)) worst = e;
        }
    }
    return worst;
}

static void test_shape(const shape *s) {
    crvq_vq_fit L;
    make_layer(s, &L);
    crvq_vq_layer S;
    CHECK(crvq_vq_emit(&L, &S) == CRVQ_OK);
    crvq_vq_weights *W = NULL;
    CHECK_MSG(crvq_vq_weights_from_layer(&S, "test", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (!W) return;
    crvq_vq_weights_take(W, &S);
    CHECK(W->m_out == s->m && W->n_groups == s->n_in / s->d && W->n_ext == s->n_crit * (s->M - 1));
    CHECK((W->codes8 != NULL) == (s->e[0] <= 8));
    int ext1 = 1; // every extended codebook has e <= 8
    for (int k = 1; k < s->M; k++) ext1 &= s->e[k] <= 8;
    CHECK((W->tiles8 != NULL) == (crvq_isa_vbmi_supported() && s->e[0] <= 8 && (s->n_crit == 0 || s->M == 1 || ext1)));

    double *w = dequant_ref(&L);
    // permuted-order expansion of every row, against the reference
    float *wp = malloc((size_t)s->m * s->n_in * sizeof(float));
    const int toks[] = {1, 3, 17, 64};
    const int max_n = 64;
    float *x = malloc((size_t)max_n * s->n_in * sizeof(float));
    float *y = malloc((size_t)max_n * s->m * sizeof(float));
    float *y_lut = malloc((size_t)max_n * s->m * sizeof(float));
    double *ref = malloc((size_t)max_n * s->m * sizeof(double));
    double *mag = malloc((size_t)max_n * s->m * sizeof(double));
    for (size_t i = 0; i < (size_t)max_n * s->n_in; i++) x[i] = rng_unit();
    for (int t = 0; t < max_n; t++)
        for (int r = 0; r < s->m; r++) {
            double a = 0.0, b = 0.0;
            for (int c = 0; c < s->n_in; c++) {
                double p = w[(size_t)r * s->n_in + c] * x[(size_t)t * s->n_in + c];
                a += p;
                b += fabs(p);
            }
            ref[(size_t)t * s->m + r] = a;
            mag[(size_t)t * s->m + r] = b;
        }

    for (int isa = CRVQ_ISA_SCALAR; isa <= (int)crvq_isa_supported(); isa++) {
        crvq_isa_force((crvq_isa)isa);
        const char *name = crvq_isa_name((crvq_isa)isa);

        crvq_vq_dequant_rows(W, 0, s->m, wp);
        double e_dq = 0.0;
        for (int r = 0; r < s->m; r++)
            for (int j = 0; j < s->n_in; j++) {
                int col = L.perm ? L.perm[j] : j;
                double ref_w = w[(size_t)r * s->n_in + col];
                double e = fabs(wp[(size_t)r * s->n_in + j] - ref_w) / (fabs(ref_w) + 1e-3);
                if (!(e <= e_dq)) e_dq = e;
            }
        CHECK_MSG(e_dq <= 1e-6, "%s dequant m=%d n_in=%d d=%d M=%d: rel err %.3g", name, s->m, s->n_in, s->d,
                  s->M, e_dq);

        for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
            const int n = toks[ti];
            const size_t ny = (size_t)n * s->m;
            crvq_vq_forward_lut(W, x, n, y_lut);
            double e = lut_err(W, x, y_lut, ref, mag, n);
            CHECK_MSG(e <= TOL, "%s lut n=%d m=%d n_in=%d d=%d M=%d e0=%d n_crit=%d perm=%d: rel err %.3g", name, n,
                      s->m, s->n_in, s->d, s->M, s->e[0], s->n_crit, s->permuted, e);
            const int tiles[] = {0, 5};
            for (int k = 0; k < 2; k++) {
                crvq_vq_forward_tiled(W, x, n, y, tiles[k]);
                e = rel_err(y, ref, mag, ny);
                CHECK_MSG(e <= TOL, "%s tiled(%d) n=%d m=%d n_in=%d d=%d M=%d: rel err %.3g", name, tiles[k], n,
                          s->m, s->n_in, s->d, s->M, e);
                // decode path and batched path agree with each other as well
                double *yd = malloc(ny * sizeof(double));
                for (size_t i = 0; i < ny; i++) yd[i] = y[i];
                double agree = lut_err(W, x, y_lut, yd, mag, n);
                free(yd);
                CHECK_MSG(agree <= 2 * TOL, "%s lut vs tiled n=%d: %.3g", name, n, agree);
            }
            crvq_vq_forward(W, x, n, y);
            // one of the two paths: the one-token one (checked above with its
            // bound) or within TOL, as the tiled path is
            e = memcmp(y, y_lut, ny * sizeof *y) ? rel_err(y, ref, mag, ny) : 0.0;
            CHECK_MSG(e <= TOL, "%s forward n=%d: rel err %.3g", name, n, e);
        }
    }
    crvq_isa_force(CRVQ_ISA_AVX512);

    free(w);
    free(wp);
    free(x);
    free(y);
    free(y_lut);
    free(ref);
    free(mag);
    crvq_vq_weights_free(W);
    free_layer(&L);
}

// The container's path: fp16 arrays and codes that stay where they are,
// against the same layer emitted by the quantizer's crvq_vq_emit.
static void test_stored(void) {
    shape s = {.m = 9, .n_in = 64, .d = 8, .M = 2, .e = {8, 4}, .n_crit = 3, .permuted = 1};
    crvq_vq_fit L;
    make_layer(&s, &L);
    const int G = 8;
    uint8_t codes[9 * 8], ext[9 * 3];
    for (int i = 0; i < 9 * G; i++) codes[i] = (uint8_t)L.codes[i];
    for (int i = 0; i < 9 * 3; i++) ext[i] = (uint8_t)L.codes_ext[i];
    uint16_t cb0[256 * 8], cb1[16 * 8], sc[9];
    for (int i = 0; i < 256 * 8; i++) cb0[i] = crvq_f32_to_f16(L.codebooks[0][i]);
    for (int i = 0; i < 16 * 8; i++) cb1[i] = crvq_f32_to_f16(L.codebooks[1][i]);
    for (int r = 0; r < 9; r++) sc[r] = crvq_f32_to_f16(L.scales[r]);
    crvq_vq_layer raw = {.m_out = 9, .n_in = 64, .d = 8, .M = 2, .n_groups = G, .n_crit = 3, .e = {8, 4},
                         .codes = codes, .codes_ext = ext, .codebooks = {cb0, cb1}, .scales = sc, .perm = L.perm};
    crvq_vq_layer S;
    CHECK(crvq_vq_emit(&L, &S) == CRVQ_OK);
    CHECK(!memcmp(S.codes, codes, sizeof codes) && !memcmp(S.codes_ext, ext, sizeof ext));
    CHECK(!memcmp(S.codebooks[0], cb0, sizeof cb0) && !memcmp(S.codebooks[1], cb1, sizeof cb1));
    CHECK(!memcmp(S.scales, sc, sizeof sc) && !memcmp(S.perm, L.perm, 64 * sizeof(int32_t)));
    crvq_vq_weights *W = NULL, *W2 = NULL;
    CHECK_MSG(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_OK, "%s", crvq_last_error());
    CHECK_MSG(crvq_vq_weights_from_layer(&S, "layer", &W2) == CRVQ_OK, "%s", crvq_last_error());
    if (W && W2) {
        CHECK(W->codes8 == codes && W->ext8 == ext); // not copied
        crvq_vq_weights_take(W2, &S);
        const crvq_linear a = {.kind = CRVQ_LINEAR_VQ, .n_out = 9, .n_in = 64, .vq = W};
        const crvq_linear b = {.kind = CRVQ_LINEAR_VQ, .n_out = 9, .n_in = 64, .vq = W2};
        test_linear_pair(a, b, rng_unit);
        // 16 (M-1 = 1) extended codes per row at 4 bits: 8 bytes for 9 rows of 3
        CHECK(crvq_vq_weights_bytes(W) == 9 * 8 + 9 * 3 + 9 * 2 + (256 + 16) * 8 * 2 + 64 * 4);
    }
    crvq_vq_weights_free(W);
    crvq_vq_weights_free(W2);
    crvq_vq_layer_free(&S); // (nothing left when W2 took it)

    // malformed inputs are reported, not trusted
    ext[4] = 16; // does not fit e[1] = 4 bits
    W = NULL;
    CHECK(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    CHECK(strstr(crvq_last_error(), "raw") != NULL);
    ext[4] = 3;
    int32_t bad[64];
    memcpy(bad, L.perm, sizeof bad);
    bad[5] = bad[6];
    raw.perm = bad;
    CHECK(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    raw.perm = L.perm;
    raw.n_crit = 9;
    CHECK(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    raw.n_crit = 3;
    raw.codes_ext = NULL;
    CHECK(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    raw.n_groups = 7;
    CHECK(crvq_vq_weights_from_layer(&raw, "raw", &W) == CRVQ_ERR_FORMAT && !W);
    free_layer(&L);
}

int main(void) {
    printf("kernel variants: scalar..%s\n", crvq_isa_name(crvq_isa_supported()));
    const shape shapes[] = {
        // CRVQ defaults (d = 8, e = 8, M = 4) with a random permutation
        {.m = 37, .n_in = 256, .d = 8, .M = 4, .e = {8, 8, 8, 8}, .n_crit = 3, .permuted = 1},
        // no critical groups: extended codebooks unused
        {.m = 20, .n_in = 128, .d = 8, .M = 4, .e = {8, 8, 8, 8}, .n_crit = 0, .permuted = 0},
        // VQ: every group critical; 4-bit codebooks
        {.m = 33, .n_in = 96, .d = 8, .M = 2, .e = {4, 4}, .n_crit = 12, .permuted = 1},
        // one codebook, 10 bits (uint16 codes), d = 4, 50 groups (not a multiple of 16)
        {.m = 19, .n_in = 200, .d = 4, .M = 1, .e = {10}, .n_crit = 0, .permuted = 1},
        // mixed widths: uint8 basic codes, uint16 extended ones; d = 16
        {.m = 11, .n_in = 336, .d = 16, .M = 3, .e = {8, 10, 4}, .n_crit = 5, .permuted = 1},
        // tiny d and codebooks, all critical, 4 codebooks
        {.m = 17, .n_in = 74, .d = 2, .M = 4, .e = {4, 4, 4, 4}, .n_crit = 37, .permuted = 0},
        // odd d = 3, small e (tables shorter than one vector)
        {.m = 13, .n_in = 99, .d = 3, .M = 2, .e = {3, 2}, .n_crit = 7, .permuted = 1},
        // 12-bit basic codebook, 24-dim vectors (masked tails in the expansion)
        {.m = 5, .n_in = 96, .d = 24, .M = 2, .e = {12, 8}, .n_crit = 2, .permuted = 0},
        // large enough for the threaded paths (rows split over threads)
        {.m = 300, .n_in = 2048, .d = 8, .M = 4, .e = {8, 8, 8, 8}, .n_crit = 5, .permuted = 1},
        // a single row
        {.m = 1, .n_in = 64, .d = 8, .M = 3, .e = {8, 8, 8}, .n_crit = 8, .permuted = 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(&shapes[i]);
    test_stored();
    return check_done();
}
