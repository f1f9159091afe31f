// sq_kernels.c — scalar reference of the scalar-quantized inner loops
// (sq_kernels.h), for any bits in 1..8 and any group size.
#include "kernels/sq_kernels.h"

// Code c of a packed row: its bits start at bit c*bits; with bits <= 8 they
// span at most two bytes (the second only if it exists).
static inline int code_at(const uint8_t *row, size_t row_bytes, int bits, int c) {
    size_t bit = (size_t)c * bits, b = bit >> 3;
    unsigned v = row[b];
    if (b + 1 < row_bytes) v |= (unsigned)row[b + 1] << 8;
    return (int)((v >> (bit & 7)) & ((1u << bits) - 1));
}

void crvq_sq_matvec_scalar(const crvq_scalar_weights *W, const float *x, const float *xsum, int r0,
                           int r1, float *y) {
    const int gs = W->group_size;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * W->n_gr, *ze = W->zero + (size_t)r * W->n_gr;
        float acc = 0.0f;
        for (int g = 0; g < W->n_gr; g++) {
            float s = 0.0f;
            for (int c = g * gs; c < (g + 1) * gs; c++) s += (float)code_at(row, W->row_bytes, W->bits, c) * x[c];
            acc += sc[g] * (s - ze[g] * xsum[g]);
        }
        y[r - r0] = acc;
    }
}

void crvq_sq_dequant_scalar(const crvq_scalar_weights *W, int r0, int r1, float *w) {
    const int gs = W->group_size;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * W->n_gr, *ze = W->zero + (size_t)r * W->n_gr;
        float *wr = w + (size_t)(r - r0) * W->n_in;
        for (int c = 0; c < W->n_in; c++)
            wr[c] = sc[c / gs] * ((float)code_at(row, W->row_bytes, W->bits, c) - ze[c / gs]);
    }
}

const crvq_sq_kernels crvq_sq_kernels_scalar = {
    .matvec = crvq_sq_matvec_scalar,
    .dequant = crvq_sq_dequant_scalar,
};

const crvq_sq_kernels *crvq_sq_kernels_active(void) {
    switch (crvq_isa_active()) {
    case CRVQ_ISA_AVX512: return &crvq_sq_kernels_avx512;
    case CRVQ_ISA_AVX2: return &crvq_sq_kernels_avx2;
    case CRVQ_ISA_SCALAR: break;
    }
    return &crvq_sq_kernels_scalar;
}
