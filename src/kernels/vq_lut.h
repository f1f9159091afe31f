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
    // Quantized tables (below): L float tables T (L, S), entries [0, K) of
    // each, K <= 256, into Tq (L, 2, 256) and qs (ceil(L / CRVQ_QLUT_CHUNK)).
    void (*tquant)(const float *T, int S, int K, int L, int8_t *Tq, float *qs);
    // Quantized table sums over ntiles tiles of CRVQ_QLUT_TILE rows, codes
    // in the tiled layout (below), L tables: out (ntiles * CRVQ_QLUT_TILE).
    void (*qsum)(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                 int accumulate);
} crvq_vq_kernels;

// ---- quantized look-up tables: the one-token path of 1-byte codes ----
//
// The float table sums above do one scalar load and add per code (about
// 1.3 per cycle on Zen 4, however unrolled: the loop is bound by its uops).
// Held as bytes, 64 entries are looked up by one vpermt2b (AVX-512 VBMI),
// so the tables are quantized, without giving up float-like precision:
//   - a chunk of CRVQ_QLUT_CHUNK consecutive tables shares a scale s, the
//     least power of two with max |v| <= 127 s over the chunk's entries;
//   - each entry v is two int8, v ≈ s (hi + lo / 256): hi = rint(v / s),
//     lo = rint((v / s - hi) * 256) clamped to [-127, 127]. |error| <= s / 256
//     <= max |v| / 16256 (16-bit precision);
//   - a row's sum over a chunk is the exact integer Σ (256 hi + lo) (int16
//     partial sums of hi and of lo do not overflow: 32 * 127 < 2^15), times
//     qs = s / 256, a power of two: the product is exact, so whether a
//     compiler fuses it with the following add changes nothing;
//   - out[i] (+)= that, chunk after chunk in order.
// Every step is exact but the rint and the one add per chunk, so every
// variant gives the same bits. Codes are read in tiles of CRVQ_QLUT_TILE
// rows: tile t holds, for each table l in turn, the codes of its 64 rows,
// tiles[(t * L + l) * 64 + i] = code of row 64 t + i for table l (rows past
// the matrix's last are code 0), one load per 64 lookups.
#define CRVQ_QLUT_TILE 64
#define CRVQ_QLUT_CHUNK 32
#define CRVQ_QLUT_K 256

// The plain-C reference of tquant and qsum (the scalar variant; AVX2 and
// AVX-512 without VBMI run this qsum too).
void crvq_vq_tquant_scalar(const float *T, int S, int K, int L, int8_t *Tq, float *qs);
void crvq_vq_qsum_scalar(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                         int accumulate);
// The chunk scale of tquant from the chunk's max |v|: s = 2^k, stored as
// qs = s / 256, and the factor 1 / s. Shared by every variant. A max that
// is not finite gives qs = NaN (the sums become NaN, as the float ones
// would); one below 2^-100 gives s = 2^-100 (entries that small round to 0).
void crvq_vq_qlut_scale(float amax, float *qs, float *inv);
// qsum with vpermt2b, defined only in AVX-512 VBMI builds of the kernels
// (vq_lut_vbmi.c); called only when crvq_isa_vbmi().
void crvq_vq_qsum_vbmi(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                       int accumulate);

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
extern const crvq_vq_kernels crvq_vq_kernels_avx512vbmi; // avx512 with qsum_vbmi

// The variant for crvq_isa_active().
const crvq_vq_kernels *crvq_vq_kernels_active(void);

#endif
