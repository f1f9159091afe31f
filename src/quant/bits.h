// bits.h — bits per weight, everything counted (docs/method.md, "Bits per
// weight"; docs/quantization.md, "Bits accounting"): the one definition,
// from a layer's shape. The quantizer's result (crvq_vq_bits,
// crvq_scalar_bits in crvq.h), the --dry-run plan (crvq_planned_bits), a
// loaded or written layer (crvq_linear_bits) and a whole model
// (crvq_model_linear_bits) and the three sums of a whole model
// (crvq_model_bpw_of: info, the quantize report) all count through it.
#ifndef CRVQ_QUANT_BITS_H
#define CRVQ_QUANT_BITS_H

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

// One linear layer as stored: compressed ones by the formulas above, dense
// ones 16 (the container writes them as fp16).
double crvq_linear_bits(const crvq_linear *lin);

// Bits the seven projections of every block take, in all. Dense layers
// count 16 per weight when dense_stored is NULL (what the container writes);
// otherwise *dense_stored is the bits the loaded file spends on all of them
// (crvq_model_storage's dense_bits[CRVQ_ROLE_LINEAR]).
double crvq_model_linear_bits(const crvq_model *m, const double *dense_stored);
// The same per weight: over crvq_model_n_params_linear(m) weights.
double crvq_model_linear_bpw(const crvq_model *m, const double *dense_stored);

// Bits per weight of a whole model. A compressed head or embedding counts by
// its layer's formula; a tied head is the embedding and counts once.
typedef struct crvq_model_bpw {
    double linear;   // the 7 projections of every block
    double nonembed; // every tensor but the token embedding and the output head
    double total;    // every tensor, over all parameters
    double embed;    // the token embedding alone
    double head;     // the output head alone; 0 when tied
} crvq_model_bpw;

// dense_stored (CRVQ_ROLE_COUNT, model/storage.h): the bits the loaded file
// spends on the dense tensors of each role (crvq_model_storage's dense_bits);
// NULL: what the container writes (16 per matrix weight, 32 per norm weight).
crvq_model_bpw crvq_model_bpw_of(const crvq_model *m, const double *dense_stored);

#endif
