// scalar.h — the layer RTN and GPTQ fit (their private working form) and its
// way out into the stored form, and the asymmetric scalar grid they share,
// so that GPTQ with H = I reproduces RTN exactly and both store what a file
// would hold.
#ifndef CRVQ_QUANT_SCALAR_H
#define CRVQ_QUANT_SCALAR_H

#include "crvq.h"

#include <math.h>

// W[r,c] ≈ scale[r,g] * (q[r,c] - zero[r,g]), g = c / group_size: one code
// per byte, scale and zero float32 (holding fp16 values, see the grid).
typedef struct crvq_scalar_fit {
    int m_out, n_in, bits, group_size;
    uint8_t *q;      // (m_out, n_in)
    float *scale;    // (m_out, n_in / group_size)
    float *zero;     // (m_out, n_in / group_size)
} crvq_scalar_fit;

// scalar_fit.c: allocates q (m_out, n_in), scale and zero (m_out, n_in /
// group_size); on failure nothing stays allocated.
crvq_status crvq_scalar_fit_alloc(crvq_scalar_fit *L, int m_out, int n_in, int bits, int group_size);
void crvq_scalar_fit_free(crvq_scalar_fit *L);

// The stored form of a fitted layer, in one allocation that *out owns
// (crvq_scalar_layer_free, kernels/sq_weights.h): codes packed
// (crvq_scalar_pack), scale and zero as fp16.
crvq_status crvq_scalar_emit(const crvq_scalar_fit *L, crvq_scalar_layer *out);

// Grid of one (row, group) from the group's min and max: the range is
// widened to contain 0 (GPTQ's convention, so the zero point is an integer
// in [0, 2^bits − 1] and 0 is exact), scale = (hi − lo)/(2^bits − 1) and
// zero = round(−lo/scale). Scale is rounded to fp16 first and the zero point
// computed from the rounded scale, as the container stores both in fp16.
static inline void crvq_scalar_grid(double lo, double hi, int bits, float *scale, float *zero) {
    int maxq = (1 << bits) - 1;
    lo = fmin(lo, 0.0);
    hi = fmax(hi, 0.0);
    float s = hi > lo ? crvq_f16_to_f32(crvq_f32_to_f16((float)((hi - lo) / maxq))) : 1.0f;
    // Rounding can give 0 (tiny ranges) or inf (absurd ones); keep the grid finite and usable.
    if (s == 0.0f) s = 0x1p-24f;    // smallest fp16 subnormal
    if (isinf(s)) s = 65504.0f;     // largest fp16
    double z = nearbyint(-lo / s);
    *scale = s;
    *zero = (float)(z < 0 ? 0 : z > maxq ? maxq : z);
}

// Code of x on the grid: clamp(round(x/scale) + zero, 0, 2^bits − 1), ties to even.
static inline int crvq_scalar_code(double x, float scale, float zero, int bits) {
    int maxq = (1 << bits) - 1;
    double q = nearbyint(x / scale) + zero;
    return q < 0 ? 0 : q > maxq ? maxq : (int)q;
}

// The value code q stands for, computed as the dequantizer computes it (float).
static inline float crvq_scalar_value(int q, float scale, float zero) { return scale * ((float)q - zero); }

#endif
