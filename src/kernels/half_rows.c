// half_rows.c — the scalar reference of half_rows.h and its dispatch.
#include "kernels/half_rows.h"

#include <math.h>

#include "kernels/isa.h"

void crvq_half_to_f32_scalar(const uint16_t *src, crvq_dtype dt, size_t n, float *dst) {
    if (dt == CRVQ_BF16)
        for (size_t i = 0; i < n; i++) dst[i] = crvq_bf16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = crvq_f16_to_f32(src[i]);
}

void crvq_half_to_f32(const uint16_t *src, crvq_dtype dt, size_t n, float *dst) {
    if (crvq_isa_active() >= CRVQ_ISA_AVX2) crvq_half_to_f32_avx2(src, dt, n, dst);
    else crvq_half_to_f32_scalar(src, dt, n, dst);
}


static float widen(const crvq_half_matrix *H, size_t i) {
    return H->dt == CRVQ_BF16 ? crvq_bf16_to_f32(H->w[i]) : crvq_f16_to_f32(H->w[i]);
}

void crvq_half_matvec_scalar(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y) {
    const int n = H->n_in, blocks = n / 32;
    for (int r = r0; r < r1; r++) {
        const size_t row = (size_t)r * n;
        float s[4][8] = {{0}};
        for (int b = 0; b < blocks; b++)
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 8; j++) {
                    const int c = 32 * b + 8 * k + j;
                    s[k][j] = fmaf(widen(H, row + c), x[c], s[k][j]);
                }
        // (s0 + s1) + (s2 + s3) by lanes; lanes j + j+4; then [0]+[2], [1]+[3]; then the two
        float t[8], u[4];
        for (int j = 0; j < 8; j++) t[j] = (s[0][j] + s[1][j]) + (s[2][j] + s[3][j]);
        for (int j = 0; j < 4; j++) u[j] = t[j] + t[j + 4];
        float acc = (u[0] + u[2]) + (u[1] + u[3]);
        for (int c = 32 * blocks; c < n; c++) acc = fmaf(widen(H, row + c), x[c], acc);
        y[r - r0] = acc;
    }
}

void crvq_half_matvec(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y) {
    if (crvq_isa_active() >= CRVQ_ISA_AVX2) crvq_half_matvec_avx2(H, x, r0, r1, y);
    else crvq_half_matvec_scalar(H, x, r0, r1, y);
}
