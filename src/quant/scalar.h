// scalar.h — the asymmetric scalar grid shared by RTN and GPTQ, so that GPTQ
// with H = I reproduces RTN exactly and both store what a file would hold.
#ifndef CRVQ_QUANT_SCALAR_H
#define CRVQ_QUANT_SCALAR_H

#include "crvq.h"

#include <math.h>

// rtn.c: allocates q (m_out, n_in), scale and zero (m_out, n_in / group_size).
crvq_status crvq_scalar_layer_alloc(crvq_scalar_layer *L, int m_out, int n_in, int bits, int group_size);

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
