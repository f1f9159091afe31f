// vq_score.c — scalar reference of the codeword scoring kernels and the
// run-time choice of variant (see vq_score.h).
#include "kernels/vq_score.h"

#include <math.h>
#include <stddef.h>

#include "kernels/isa.h"

int crvq_vq_argmin_scalar(const float *ct, const float *q, const float *v, int d, int K, float *best) {
    int arg = 0;
    float lo = 0;
    for (int j = 0; j < K; j++) {
        float s = q[j];
        for (int t = 0; t < d; t++) s = fmaf(v[t], ct[(size_t)t * K + j], s);
        if (j == 0 || s < lo) {
            lo = s;
            arg = j;
        }
    }
    *best = lo;
    return arg;
}

void crvq_vq_scores_scalar(const float *ct, const float *q, const float *v, int d, int K, float *out) {
    for (int j = 0; j < K; j++) {
        float s = q[j];
        for (int t = 0; t < d; t++) s = fmaf(v[t], ct[(size_t)t * K + j], s);
        out[j] = s;
    }
}

crvq_vq_argmin_fn crvq_vq_argmin_active(void) {
    switch (crvq_isa_active()) {
    case CRVQ_ISA_AVX512: return crvq_vq_argmin_avx512;
    case CRVQ_ISA_AVX2: return crvq_vq_argmin_avx2;
    case CRVQ_ISA_SCALAR: break;
    }
    return crvq_vq_argmin_scalar;
}

crvq_vq_scores_fn crvq_vq_scores_active(void) {
    switch (crvq_isa_active()) {
    case CRVQ_ISA_AVX512: return crvq_vq_scores_avx512;
    case CRVQ_ISA_AVX2: return crvq_vq_scores_avx2;
    case CRVQ_ISA_SCALAR: break;
    }
    return crvq_vq_scores_scalar;
}
