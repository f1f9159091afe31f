// test_vq_gsum.c — the VQ table sums (gsum8 / gsum16, kernels/vq_lut.h) of
// every kernel variant this CPU runs, and the 8-byte-load ones with prefetch
// (_words, which the AVX2 / AVX-512 variants ship), against the definition written out here in its documented float order:
// exact equality (the order is part of the contract, so no tolerance). The
// codes end at a page followed by an inaccessible one, so a kernel that reads
// past a row's last code (the 8-byte loads) crashes the test.
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "guard_util.h"
#include "kernels/vq_lut.h"
#include "quant/rng.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

// The definition: per row, chunks of 32 tables, each chunk's entries added
// left to right into a partial sum that is then added to the output.
static void gsum_def(const float *T, int S, const void *codes, int wide, size_t ld, int L, int nr, float *out,
                     int accumulate) {
    for (int i = 0; i < nr; i++) {
        float o = accumulate ? out[i] : 0.0f;
        for (int l0 = 0; l0 < L; l0 += 32) {
            float s = 0.0f;
            for (int l = l0; l < L && l < l0 + 32; l++) {
                size_t k = (size_t)i * ld + (size_t)l;
                int c = wide ? ((const uint16_t *)codes)[k] : ((const uint8_t *)codes)[k];
                s += T[(size_t)l * S + c];
            }
            o += s;
        }
        out[i] = o;
    }
}

typedef void (*gsum8_fn)(const float *, int, const uint8_t *, size_t, int, int, float *, int);
typedef void (*gsum16_fn)(const float *, int, const uint16_t *, size_t, int, int, float *, int);

// One shape through gsum8 / gsum16 (as `wide`) of every variant and of _words.
static void test_shape(int wide, int S, int L, int pad, int nr, int accumulate) {
    const size_t ld = (size_t)L + (size_t)pad, n = (size_t)(nr - 1) * ld + (size_t)L, cb = wide ? 2 : 1;
    guarded g = guarded_alloc(n * cb);
    for (size_t k = 0; k < n; k++) {
        unsigned c = (unsigned)(crvq_splitmix64(&rng_state) % (uint64_t)S);
        if (wide) ((uint16_t *)g.p)[k] = (uint16_t)c;
        else ((uint8_t *)g.p)[k] = (uint8_t)c;
    }
    float *T = malloc((size_t)L * S * sizeof *T), *want = malloc((size_t)nr * sizeof *want),
          *got = malloc((size_t)nr * sizeof *got), *init = malloc((size_t)nr * sizeof *init);
    for (size_t k = 0; k < (size_t)L * S; k++) T[k] = (float)((int64_t)(crvq_splitmix64(&rng_state) >> 40) - (1 << 23)) * 0x1p-17f;
    for (int i = 0; i < nr; i++) init[i] = (float)i * 0.37f - 1.0f;
    memcpy(want, init, (size_t)nr * sizeof *want);
    gsum_def(T, S, g.p, wide, ld, L, nr, want, accumulate);

    const crvq_vq_kernels *K[3] = {&crvq_vq_kernels_scalar, &crvq_vq_kernels_avx2, &crvq_vq_kernels_avx512};
    for (int v = 0; v <= 3; v++) {
        if (v < 3 && v > (int)crvq_isa_supported()) continue;
        gsum8_fn f8 = v < 3 ? K[v]->gsum8 : crvq_vq_gsum8_words;
        gsum16_fn f16 = v < 3 ? K[v]->gsum16 : crvq_vq_gsum16_words;
        memcpy(got, init, (size_t)nr * sizeof *got);
        if (wide) f16(T, S, g.p, ld, L, nr, got, accumulate);
        else f8(T, S, g.p, ld, L, nr, got, accumulate);
        CHECK_MSG(memcmp(got, want, (size_t)nr * sizeof *got) == 0,
                  "%s gsum%d S %d L %d ld %zu nr %d acc %d: got %.9g want %.9g (row 0)",
                  v < 3 ? crvq_isa_name((crvq_isa)v) : "words", wide ? 16 : 8, S, L, ld, nr, accumulate, got[0], want[0]);
    }
    guarded_free(&g);
    free(T);
    free(want);
    free(got);
    free(init);
}

int main(void) {
    // L: below, at and past the 8-code words, the 32-table chunks and the
    // 64-byte stretches that _words prefetches; nr: the 4-row blocks and
    // their single-row tail, and blocks long enough (>= 12) for the prefetch
    // of the rows 8 ahead; pad: rows that do not start on 8
    const int Ls[] = {1, 3, 7, 8, 9, 15, 31, 32, 33, 40, 63, 64, 100, 517};
    const int nrs[] = {1, 3, 4, 5, 8, 11, 12, 29};
    for (size_t a = 0; a < sizeof Ls / sizeof *Ls; a++)
        for (size_t b = 0; b < sizeof nrs / sizeof *nrs; b++)
            for (int pad = 0; pad <= 3; pad += 3) {
                const int acc = (int)((a + b) & 1);
                test_shape(0, 256, Ls[a], pad, nrs[b], acc);
                test_shape(0, 16, Ls[a], pad, nrs[b], !acc);
                test_shape(1, 4096, Ls[a], pad, nrs[b], acc);
                test_shape(1, 1024, Ls[a], pad, nrs[b], !acc);
            }
    return check_done();
}
