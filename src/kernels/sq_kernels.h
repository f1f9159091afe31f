// sq_kernels.h — inner loops of the scalar-quantized (RTN / GPTQ) kernels,
// one set per instruction-set variant (sq_kernels.c: scalar reference;
// sq_kernels_avx2.c; sq_kernels_avx512.c). Drivers: sq_weights.c.
#ifndef CRVQ_KERNELS_SQ_KERNELS_H
#define CRVQ_KERNELS_SQ_KERNELS_H

#include "kernels/isa.h"
#include "kernels/sq_types.h"

typedef struct crvq_sq_kernels {
    // y[r - r0] = Σ_c Ŵ[r,c] x[c] for rows [r0, r1), computed as
    //   Σ_g scale[r,g] · (Σ_{c in g} q[r,c] x[c] − zero[r,g] · xsum[g])
    // with xsum (n_gr) the sums of x over each group.
    void (*matvec)(const crvq_scalar_weights *W, const float *x, const float *xsum, int r0, int r1,
                   float *y);
    // Rows [r0, r1) of Ŵ into w (r1 - r0, n_in).
    void (*dequant)(const crvq_scalar_weights *W, int r0, int r1, float *w);
} crvq_sq_kernels;

// The scalar loops, also the fallback of the vector variants for group sizes
// that do not split into whole vectors.
void crvq_sq_matvec_scalar(const crvq_scalar_weights *W, const float *x, const float *xsum, int r0,
                           int r1, float *y);
void crvq_sq_dequant_scalar(const crvq_scalar_weights *W, int r0, int r1, float *w);

extern const crvq_sq_kernels crvq_sq_kernels_scalar;
extern const crvq_sq_kernels crvq_sq_kernels_avx2;
extern const crvq_sq_kernels crvq_sq_kernels_avx512;

const crvq_sq_kernels *crvq_sq_kernels_active(void);

#endif
