// test_vq_qlut.c — the quantized look-up tables of the one-token path
// (vq_lut.h): the chunk scale, the tables' quantization (tquant) and the
// table sums over tiled codes (qsum) of every variant this CPU runs, against
// the definitions written out here. Variants must agree bit for bit (the
// integer sums are exact and the float steps are the documented ones), so
// there is no tolerance there; the quantization error is checked against
// its stated bound, s / 256 per entry. The tiled codes end at a page
// followed by an inaccessible one, so a sum that reads past its last tile
// crashes the test.
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "guard_util.h"
#include "kernels/vq_lut.h"
#include "quant/rng.h"

static uint64_t rng_state = 0x5851f42d4c957f2dull;
static double rng_u(void) { return (double)(crvq_splitmix64(&rng_state) >> 11) * 0x1p-53; }

static const crvq_vq_kernels *variant(int v) {
    const crvq_vq_kernels *K[3] = {&crvq_vq_kernels_scalar, &crvq_vq_kernels_avx2, &crvq_vq_kernels_avx512};
    return v <= (int)crvq_isa_supported() ? K[v] : NULL;
}

static int is_pow2(float x) {
    int k;
    return x > 0.0f && frexpf(x, &k) == 0.5f;
}

static void test_scale(void) {
    const float amaxes[] = {1.0f, 127.0f, 127.5f, 254.0f, 0.3f, 1e-20f, 3e38f, 0x1p-100f, 0x1p-99f};
    for (size_t i = 0; i < sizeof amaxes / sizeof *amaxes; i++) {
        float qs, inv;
        crvq_vq_qlut_scale(amaxes[i], &qs, &inv);
        const double s = 256.0 * qs;
        CHECK_MSG(is_pow2(qs) && (double)inv * s == 1.0, "amax %g: qs %g inv %g", amaxes[i], qs, inv);
        // the least power of two with amax <= 127 s
        CHECK_MSG(amaxes[i] <= 127.0 * s * (1 + 0x1p-23) && amaxes[i] > 127.0 * s / 2, "amax %g: s %g not the least", amaxes[i], s);
    }
    float qs, inv;
    crvq_vq_qlut_scale(0.0f, &qs, &inv);
    CHECK(qs == 0x1p-108f && inv == 0x1p100f);
    crvq_vq_qlut_scale(0x1p-120f, &qs, &inv);
    CHECK(qs == 0x1p-108f);
    crvq_vq_qlut_scale(INFINITY, &qs, &inv);
    CHECK(isnan(qs));
    crvq_vq_qlut_scale(NAN, &qs, &inv);
    CHECK(isnan(qs));
}

// L tables of stride S, K entries each, whose size varies by chunk and
// inside one (so that scales differ and small entries meet large ones).
static float *make_tables(int S, int L) {
    float *T = calloc((size_t)L * S, sizeof *T);
    for (int l = 0; l < L; l++)
        for (int c = 0; c < S; c++)
            T[(size_t)l * S + c] = (float)((rng_u() * 2.0 - 1.0) * ldexp(1.0, (l * 7 + c % 5) % 23 - 11));
    return T;
}

static void test_tquant_shape(int S, int K, int L) {
    float *T = make_tables(S, L);
    if (L > 40) T[(size_t)40 * S] = NAN; // one chunk's scale becomes NaN, the others stay
    const int nc = (L + CRVQ_QLUT_CHUNK - 1) / CRVQ_QLUT_CHUNK;
    int8_t *want = malloc((size_t)L * 2 * CRVQ_QLUT_K), *got = malloc((size_t)L * 2 * CRVQ_QLUT_K);
    float *qs_want = malloc(nc * sizeof(float)), *qs_got = malloc(nc * sizeof(float));
    crvq_vq_tquant_scalar(T, S, K, L, want, qs_want);
    // the reference against the definition: the chunk's scale, every entry
    // within s / 256 of its value, entries past K zero
    for (int c = 0; c < nc; c++) {
        const int l0 = c * CRVQ_QLUT_CHUNK, l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
        float amax = 0.0f;
        int nan = 0;
        for (int l = l0; l < l1; l++)
            for (int k = 0; k < K; k++) {
                const float a = fabsf(T[(size_t)l * S + k]);
                nan |= isnan(a);
                amax = a > amax ? a : amax;
            }
        float qs, inv;
        crvq_vq_qlut_scale(nan ? NAN : amax, &qs, &inv);
        CHECK_MSG(nan ? isnan(qs_want[c]) : qs_want[c] == qs, "S %d K %d L %d chunk %d: qs %g want %g", S, K, L, c,
                  qs_want[c], qs);
        if (nan) continue;
        const double s = 256.0 * qs;
        double worst = 0.0;
        int ok = 1;
        for (int l = l0; l < l1; l++) {
            const int8_t *hi = want + (size_t)l * 2 * CRVQ_QLUT_K, *lo = hi + CRVQ_QLUT_K;
            for (int k = 0; k < CRVQ_QLUT_K; k++) {
                ok &= hi[k] >= -127 && lo[k] >= -127;
                if (k >= K) {
                    ok &= hi[k] == 0 && lo[k] == 0;
                    continue;
                }
                const double e = fabs(T[(size_t)l * S + k] - s * (hi[k] + lo[k] / 256.0)) / s;
                worst = e > worst ? e : worst;
            }
        }
        CHECK_MSG(ok && worst <= 1.0 / 256.0, "S %d K %d L %d chunk %d: error %.3g of s, bytes ok %d", S, K, L, c,
                  worst, ok);
    }
    for (int v = 1; v < 3; v++) {
        const crvq_vq_kernels *Kv = variant(v);
        if (!Kv) continue;
        memset(got, 0x55, (size_t)L * 2 * CRVQ_QLUT_K);
        Kv->tquant(T, S, K, L, got, qs_got);
        int same = !memcmp(got, want, (size_t)L * 2 * CRVQ_QLUT_K);
        for (int c = 0; c < nc; c++) same &= qs_got[c] == qs_want[c] || (isnan(qs_got[c]) && isnan(qs_want[c]));
        CHECK_MSG(same, "%s tquant S %d K %d L %d differs from the reference", crvq_isa_name((crvq_isa)v), S, K, L);
    }
    free(T);
    free(want);
    free(got);
    free(qs_want);
    free(qs_got);
}

// The definition: per row, chunk after chunk, the exact integer
// Σ (256 hi + lo) over the chunk's tables, times qs, added to the output.
static void qsum_def(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                     int accumulate) {
    for (int t = 0; t < ntiles; t++)
        for (int i = 0; i < CRVQ_QLUT_TILE; i++) {
            float o = accumulate ? out[t * CRVQ_QLUT_TILE + i] : 0.0f;
            for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
                long acc = 0;
                for (int l = l0; l < L && l < l0 + CRVQ_QLUT_CHUNK; l++) {
                    const int c = tiles[((size_t)t * L + l) * CRVQ_QLUT_TILE + i];
                    acc += 256L * Tq[(size_t)l * 2 * CRVQ_QLUT_K + c] + Tq[(size_t)l * 2 * CRVQ_QLUT_K + CRVQ_QLUT_K + c];
                }
                o += qs[l0 / CRVQ_QLUT_CHUNK] * (float)acc;
            }
            out[t * CRVQ_QLUT_TILE + i] = o;
        }
}

static void test_qsum_shape(int L, int ntiles, int accumulate) {
    const size_t nb = (size_t)ntiles * L * CRVQ_QLUT_TILE, no = (size_t)ntiles * CRVQ_QLUT_TILE;
    const int nc = (L + CRVQ_QLUT_CHUNK - 1) / CRVQ_QLUT_CHUNK;
    guarded g = guarded_alloc(nb);
    for (size_t k = 0; k < nb; k++) ((uint8_t *)g.p)[k] = (uint8_t)crvq_splitmix64(&rng_state);
    int8_t *Tq = malloc((size_t)L * 2 * CRVQ_QLUT_K);
    for (size_t k = 0; k < (size_t)L * 2 * CRVQ_QLUT_K; k++) Tq[k] = (int8_t)(crvq_splitmix64(&rng_state) % 255 - 127);
    float *qs = malloc(nc * sizeof(float)), *init = malloc(no * sizeof(float));
    float *want = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
    for (int c = 0; c < nc; c++) qs[c] = ldexpf(1.0f, (int)(crvq_splitmix64(&rng_state) % 40) - 30);
    for (size_t i = 0; i < no; i++) init[i] = (float)(rng_u() * 100.0 - 50.0);
    memcpy(want, init, no * sizeof(float));
    qsum_def(Tq, qs, g.p, L, ntiles, want, accumulate);
    const char *name[3] = {"scalar", "avx2", "avx512"};
    for (int v = 0; v < 4; v++) {
        const crvq_vq_kernels *Kv = v < 3 ? variant(v) : NULL;
        if (v < 3 && !Kv) continue;
        if (v == 3) { // the VBMI sums, where the CPU has VBMI
            crvq_isa_force(CRVQ_ISA_AVX512);
            if (!crvq_isa_vbmi()) continue;
        }
        memcpy(got, init, no * sizeof(float));
        if (v < 3) Kv->qsum(Tq, qs, g.p, L, ntiles, got, accumulate);
        else crvq_vq_qsum_vbmi(Tq, qs, g.p, L, ntiles, got, accumulate);
        CHECK_MSG(!memcmp(got, want, no * sizeof(float)), "%s qsum L %d tiles %d acc %d: got %.9g want %.9g (row 0)",
                  v < 3 ? name[v] : "vbmi", L, ntiles, accumulate, got[0], want[0]);
    }
    guarded_free(&g);
    free(Tq);
    free(qs);
    free(init);
    free(want);
    free(got);
}

int main(void) {
    test_scale();
    // K: the smallest codebooks, below and at the vector widths, full;
    // L: below, at and past one chunk, several chunks and a short last one
    const int Ks[] = {2, 4, 8, 16, 256};
    const int Ls[] = {1, 7, 31, 32, 33, 64, 100};
    for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++)
        for (size_t b = 0; b < sizeof Ls / sizeof *Ls; b++) {
            test_tquant_shape(Ks[a], Ks[a], Ls[b]);
            test_tquant_shape(Ks[a] + 24, Ks[a], Ls[b]); // a stride past the entries (ext tables: Kx)
        }
    const int Lq[] = {1, 3, 31, 32, 33, 64, 100, 517};
    for (size_t a = 0; a < sizeof Lq / sizeof *Lq; a++)
        for (int nt = 1; nt <= 3; nt++) test_qsum_shape(Lq[a], nt, (int)((a + nt) & 1));
    printf("kernel variants: scalar..%s, vbmi %s\n", crvq_isa_name(crvq_isa_supported()),
           crvq_isa_vbmi() ? "yes" : "no");
    return check_done();
}
