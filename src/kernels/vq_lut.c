// vq_lut.c — scalar reference of the VQ / CRVQ inner loops (vq_lut.h). The
// vector variants must agree with these to float rounding.
#include "kernels/vq_lut.h"

#include <string.h>

static void table_scalar(const float *x, const float *cb_t, int d, int K, float *t) {
    for (int c = 0; c < K; c++) t[c] = 0.0f;
    // j outer: streams through cb_t (d, K) row by row, as the vector variants do
    for (int j = 0; j < d; j++) {
        const float xj = x[j];
        const float *cj = cb_t + (size_t)j * K;
        for (int c = 0; c < K; c++) t[c] += xj * cj[c];
    }
}

static void gsum8_scalar(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr,
                         float *out, int accumulate) {
    for (int i = 0; i < nr; i++) {
        const uint8_t *c = codes + (size_t)i * ld;
        float s = 0.0f;
        for (int l = 0; l < L; l++) s += T[(size_t)l * S + c[l]];
        out[i] = accumulate ? out[i] + s : s;
    }
}

static void gsum16_scalar(const float *T, int S, const uint16_t *codes, size_t ld, int L, int nr,
                          float *out, int accumulate) {
    for (int i = 0; i < nr; i++) {
        const uint16_t *c = codes + (size_t)i * ld;
        float s = 0.0f;
        for (int l = 0; l < L; l++) s += T[(size_t)l * S + c[l]];
        out[i] = accumulate ? out[i] + s : s;
    }
}

static inline int code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

static void dequant_scalar(const crvq_vq_weights *W, int r0, int r1, float *w) {
    const int d = W->d, G = W->n_groups, E = W->M - 1;
    for (int r = r0; r < r1; r++) {
        float *wr = w + (size_t)(r - r0) * W->n_in;
        const float s = W->scales[r];
        for (int g = 0; g < G; g++) {
            const float *c0 = W->cb[0] + (size_t)code_at(W->codes8, W->codes16, (size_t)r * G + g) * d;
            float *o = wr + (size_t)g * d;
            memcpy(o, c0, (size_t)d * sizeof(float));
            if (g < W->n_crit)
                for (int k = 1; k <= E; k++) {
                    size_t i = ((size_t)r * W->n_crit + g) * E + (k - 1);
                    const float *ck = W->cb[k] + (size_t)code_at(W->ext8, W->ext16, i) * d;
                    for (int j = 0; j < d; j++) o[j] += ck[j];
                }
            for (int j = 0; j < d; j++) o[j] *= s;
        }
    }
}

const crvq_vq_kernels crvq_vq_kernels_scalar = {
    .table = table_scalar,
    .gsum8 = gsum8_scalar,
    .gsum16 = gsum16_scalar,
    .dequant = dequant_scalar,
};

const crvq_vq_kernels *crvq_vq_kernels_active(void) {
    switch (crvq_isa_active()) {
    case CRVQ_ISA_AVX512: return &crvq_vq_kernels_avx512;
    case CRVQ_ISA_AVX2: return &crvq_vq_kernels_avx2;
    case CRVQ_ISA_SCALAR: break;
    }
    return &crvq_vq_kernels_scalar;
}
