// test_vq_score.c — the codeword scoring kernels (kernels/vq_score.h): every
// SIMD variant the CPU runs against the scalar reference (bitwise: they add
// in the same order with fused multiply-adds), the reference against a
// float64 evaluation (relative 1e-5 of the sum of magnitudes), first index
// on ties, and odd sizes (K and d not multiples of the vector width).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/isa.h"
#include "kernels/vq_score.h"
#include "quant/rng.h"

static float uni(crvq_rng *g) { return (float)(2 * crvq_rng_uniform(g) - 1); }

static void check_case(int d, int K, crvq_rng *g, int ties) {
    float *ct = calloc((size_t)d * K, sizeof(float)), *q = calloc(K, sizeof(float)), *v = calloc(d, sizeof(float));
    float *ref = malloc(sizeof(float) * K), *out = malloc(sizeof(float) * K);
    for (int i = 0; i < d * K; i++) ct[i] = uni(g);
    for (int j = 0; j < K; j++) q[j] = 4 * uni(g);
    for (int t = 0; t < d; t++) v[t] = uni(g);
    if (ties && K > 2) { // codeword K-1 repeats codeword 1, which is made the best
        for (int t = 0; t < d; t++) ct[(size_t)t * K + K - 1] = ct[(size_t)t * K + 1];
        q[1] = q[K - 1] = -100;
    }
    crvq_vq_scores_scalar(ct, q, v, d, K, ref);
    for (int j = 0; j < K; j++) {
        double s = q[j], mag = fabs(q[j]);
        for (int t = 0; t < d; t++) {
            s += (double)v[t] * ct[(size_t)t * K + j];
            mag += fabs((double)v[t] * ct[(size_t)t * K + j]);
        }
        CHECK_MSG(fabs(ref[j] - s) <= 1e-5 * mag, "d=%d K=%d j=%d: %g vs %g", d, K, j, ref[j], s);
    }
    float best_ref;
    int arg_ref = crvq_vq_argmin_scalar(ct, q, v, d, K, &best_ref);
    for (int j = 0; j < K; j++) CHECK(ref[j] > best_ref || (ref[j] == best_ref && j >= arg_ref));
    if (ties && K > 2) CHECK(arg_ref == 1);

    struct {
        crvq_isa isa;
        crvq_vq_argmin_fn argmin;
        crvq_vq_scores_fn scores;
    } variants[] = {{CRVQ_ISA_AVX2, crvq_vq_argmin_avx2, crvq_vq_scores_avx2},
                    {CRVQ_ISA_AVX512, crvq_vq_argmin_avx512, crvq_vq_scores_avx512}};
    for (int i = 0; i < 2; i++) {
        if (variants[i].isa > crvq_isa_supported()) continue;
        variants[i].scores(ct, q, v, d, K, out);
        CHECK_MSG(!memcmp(out, ref, sizeof(float) * K), "%s scores differ from scalar (d=%d K=%d)",
                  crvq_isa_name(variants[i].isa), d, K);
        float best;
        int arg = variants[i].argmin(ct, q, v, d, K, &best);
        CHECK_MSG(arg == arg_ref && best == best_ref, "%s argmin %d (%g) vs scalar %d (%g), d=%d K=%d",
                  crvq_isa_name(variants[i].isa), arg, best, arg_ref, best_ref, d, K);
    }
    free(ct);
    free(q);
    free(v);
    free(ref);
    free(out);
}

int main(void) {
    crvq_rng g;
    crvq_rng_init(&g, 1, 0);
    int ds[] = {1, 2, 3, 4, 7, 8, 9, 16};
    int Ks[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 256, 300, 1024};
    for (size_t a = 0; a < sizeof ds / sizeof *ds; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
            check_case(ds[a], Ks[b], &g, 0);
            check_case(ds[a], Ks[b], &g, 1);
        }
    // The dispatcher returns the variant for the active ISA.
    crvq_isa_force(CRVQ_ISA_SCALAR);
    CHECK(crvq_vq_argmin_active() == crvq_vq_argmin_scalar && crvq_vq_scores_active() == crvq_vq_scores_scalar);
    crvq_isa_force(CRVQ_ISA_AVX512);
    printf("variants checked up to %s\n", crvq_isa_name(crvq_isa_supported()));
    return check_done();
}
