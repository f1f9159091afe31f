// bits.c — bits per weight of a quantized layer, everything counted
// (docs/quantization.md, "Bits accounting"). P = m_out · n_in weights.
#include <assert.h>

#include "crvq.h"

// VQ / CRVQ (docs/method.md, "Bits per weight"):
//   P/d · e_1                    basic codes, every vector
//   + m_out · n_crit · Σ_{k≥2} e_k   extended codes, critical vectors only
//   + Σ_k 2^{e_k} · d · 16        fp16 codebooks
//   + m_out · 16                  fp16 row scales
//   + n_in · 16                   the channel permutation, when one is stored
// For VQ (no permutation, n_crit = n_groups) the second term is P/d · Σ_{k≥2} e_k.
double crvq_vq_bits(const crvq_vq_layer *L) {
    assert(L && L->m_out > 0 && L->n_in > 0 && L->d > 0 && L->M >= 1);
    double P = (double)L->m_out * L->n_in, bits = P / L->d * L->e[0];
    for (int k = 1; k < L->M; k++) bits += (double)L->m_out * L->n_crit * L->e[k];
    for (int k = 0; k < L->M; k++) bits += (double)(1u << L->e[k]) * L->d * 16.0;
    bits += (double)L->m_out * 16.0;
    if (L->perm) bits += (double)L->n_in * 16.0;
    return bits / P;
}

// RTN / GPTQ: `bits` per weight plus one fp16 scale and one fp16 zero point
// per group of group_size weights of a row (crvq_scalar_layer keeps both as
// real numbers):
//   (P · bits + (P / group_size) · (16 + 16)) / P = bits + 32 / group_size.
double crvq_scalar_bits(const crvq_scalar_layer *L) {
    assert(L && L->m_out > 0 && L->n_in > 0 && L->group_size > 0 && L->n_in % L->group_size == 0);
    double P = (double)L->m_out * L->n_in, groups = P / L->group_size;
    return (P * L->bits + groups * (16.0 + 16.0)) / P;
}
