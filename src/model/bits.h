// bits.h — bits per weight, everything counted (docs/method.md, "Bits per
// weight"; docs/quantization.md, "Bits accounting"): the one definition,
// from a layer's shape. The quantizer's result (crvq_vq_bits,
// crvq_scalar_bits), the --dry-run plan (crvq_planned_bits), a loaded or
// written layer (crvq_linear_bits) and the sums of a whole model
// (crvq_model_bits: info, the quantize report; all public, crvq.h) count
// through it.
#ifndef CRVQ_MODEL_BITS_H
#define CRVQ_MODEL_BITS_H

#include "crvq.h"

// What the bits of a VQ / CRVQ layer depend on: n_crit groups of a row use
// all M codebooks (e[k] bits each), the rest only the basic one; permuted:
// a channel permutation is stored.
typedef struct crvq_vq_shape {
    int m_out, n_in, d, M, n_crit, permuted;
    const int *e; // (M)
} crvq_vq_shape;

double crvq_vq_shape_bits(const crvq_vq_shape *s);
// RTN / GPTQ: `bits` per code plus an fp16 scale and zero per group.
double crvq_scalar_shape_bits(int m_out, int n_in, int bits, int group_size);


// Bits the seven projections of every block take, in all. Dense layers
// count 16 per weight when dense_stored is NULL (what the container writes);
// otherwise *dense_stored is the bits the loaded file spends on all of them
// (crvq_model_storage's dense_bits[CRVQ_ROLE_LINEAR]).
double crvq_model_linear_bits(const crvq_model *m, const double *dense_stored);
// The same per weight: over crvq_model_n_params_linear(m) weights.
double crvq_model_linear_bpw(const crvq_model *m, const double *dense_stored);

// crvq_model_bits (crvq.h) with the dense tensors counted as
// dense_stored says: NULL, what the container writes (16 per matrix weight,
// 32 per norm weight); else (CRVQ_ROLE_COUNT, model/storage.h) the bits the
// loaded file spends on the dense tensors of each role (crvq_model_storage's
// dense_bits).
crvq_model_bpw crvq_model_bpw_of(const crvq_model *m, const double *dense_stored);

#endif
