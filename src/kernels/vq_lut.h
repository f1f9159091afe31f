// vq_lut.h — the inner loops of the VQ / CRVQ kernels, one set per
// instruction-set variant (vq_lut.c: scalar reference; vq_lut_avx2.c;
// vq_lut_avx512.c). The drivers in vq_weights.c own threading and scratch.
#ifndef CRVQ_KERNELS_VQ_LUT_H
#define CRVQ_KERNELS_VQ_LUT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/isa.h"
#include "kernels/vq_types.h"

typedef struct crvq_vq_kernels {
    // One look-up table: t[c] = Σ_j x[j] · cb_t[j*K + c] for c < K, i.e. the
    // dot product of the input slice x (d) with every codeword of a codebook
    // stored transposed, cb_t (d, K).
    void (*table)(const float *x, const float *cb_t, int d, int K, float *t);
    // Table sums over rows: for row i < nr with codes c = codes + i*ld (L of them),
    //   out[i] (+)= Σ_{l<L} T[l*S + c[l]]      (= when !accumulate, += otherwise)
    // T holds L tables of stride S. One float order for every variant, so that
    // they agree bit for bit: for each chunk of 32 tables in turn, the
    // chunk's entries are added left to right into a partial sum starting at
    // 0, which is then added to out[i].
    void (*gsum8)(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr,
                  float *out, int accumulate);
    void (*gsum16)(const float *T, int S, const uint16_t *codes, size_t ld, int L, int nr,
                   float *out, int accumulate);
    // Rows [r0, r1) of Ŵ, permuted column order, into w (r1 - r0, n_in).
    void (*dequant)(const crvq_vq_weights *W, int r0, int r1, float *w);
} crvq_vq_kernels;

// The table sums in plain C. _scalar: the reference (one load per code; the
// scalar variant). _words: 8 bytes of codes per load and software prefetch of
// the codes; the AVX2 and AVX-512 variants ship them, because gathers and
// in-register lookups lost to plain loads (docs/kernels.md). Both give the
// same bits.
void crvq_vq_gsum8_scalar(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr,
                          float *out, int accumulate);
void crvq_vq_gsum16_scalar(const float *T, int S, const uint16_t *codes, size_t ld, int L, int nr,
                           float *out, int accumulate);
void crvq_vq_gsum8_words(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr, float *out,
                         int accumulate);
void crvq_vq_gsum16_words(const float *T, int S, const uint16_t *codes, size_t ld, int L, int nr, float *out,
                          int accumulate);

extern const crvq_vq_kernels crvq_vq_kernels_scalar;
extern const crvq_vq_kernels crvq_vq_kernels_avx2;
extern const crvq_vq_kernels crvq_vq_kernels_avx512;

// The variant for crvq_isa_active().
const crvq_vq_kernels *crvq_vq_kernels_active(void);

#endif
