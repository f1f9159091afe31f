// half_rows.h — bf16 / fp16 weights widened to float32: the rows that dense
// layers kept in their file's 16-bit type are multiplied with (the widening
// is exact, so a 16-bit layer computes what its float32 copy would).
#ifndef CRVQ_KERNELS_HALF_ROWS_H
#define CRVQ_KERNELS_HALF_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

// dst (n) = src (n) widened; dt is CRVQ_BF16 or CRVQ_F16. The scalar
// reference and the AVX2 variant (F16C) give the same bits for every
// finite value and infinity.
void crvq_half_to_f32(const uint16_t *src, crvq_dtype dt, size_t n, float *dst);
void crvq_half_to_f32_scalar(const uint16_t *src, crvq_dtype dt, size_t n, float *dst);
void crvq_half_to_f32_avx2(const uint16_t *src, crvq_dtype dt, size_t n, float *dst);

// A dense 16-bit matrix (m, n_in), row-major.
typedef struct crvq_half_matrix {
    const uint16_t *w;
    crvq_dtype dt;
    int n_in;
} crvq_half_matrix;

// y[r - r0] = Σ_c W[r,c] x[c] for rows [r0, r1): one token's product, the
// weights widened in registers (2 bytes a weight read from memory). Both
// variants sum in one order, so they give the same bits: 32 fused
// multiply-add chains (element c of each 32-block into chain c % 32), the
// chains combined pairwise as 4 vectors of 8 lanes are (see
// half_rows_avx2.c), then the n_in % 32 last elements by fused steps.
void crvq_half_matvec(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y);
void crvq_half_matvec_scalar(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y);
void crvq_half_matvec_avx2(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y);

#endif
