// kv_quant.h — the groups of a quantized KV cache (crvq ... --kv-bits 8|4):
// one head's keys or values of one position, cut into groups of
// CRVQ_KVQ_GROUP values (the last one shorter when head_dim is not a
// multiple), each stored as symmetric integers with one scale, like
// llama.cpp's q8_0 / q4_0 caches.
//
//   8 bits: q = round(x / d) in [-127, 127], d = max|x| / 127, one int8 a value
//   4 bits: q = round(x / d) in [-7, 7],     d = max|x| / 7, stored as q + 8 in a
//           nibble, two a byte (value 2i in the low nibble of byte i)
//
// The scale is fp16, as in llama.cpp: 2 bytes per 32 values (8.5 and 4.5
// bits a value, against 9 and 5 with a float32 scale), and keys and values
// fit its range: a group saturates only beyond Q x 65504 (458528 at 4
// bits), far above any key or value of a working model. Its rounding (relative 2^-11)
// is taken into account: x is divided by the scale as stored, so the
// error of a value stays within half a step: |x - q d| <= d/2 (1 + 2^-11)
// for d in fp16's normal range; below it (max|x| < 127 x 2^-14) fp16's
// absolute spacing 2^-24 adds at most Q 2^-25. There is one
// implementation, in plain C: the group functions are the reference, and
// the loops are marked `omp simd` so that the compiler vectorizes them; only
// crvq_kvq_dot's sum is reordered by that (tests/test_kv_quant.c bounds it
// against the dequantized row).
#ifndef CRVQ_KERNELS_KV_QUANT_H
#define CRVQ_KERNELS_KV_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define CRVQ_KVQ_GROUP 32

// Groups of a row of n values.
static inline int crvq_kvq_groups(int n) { return (n + CRVQ_KVQ_GROUP - 1) / CRVQ_KVQ_GROUP; }
// Bytes of the codes of n values (n even at 4 bits).
static inline size_t crvq_kvq_row_bytes(int bits, int n) { return (size_t)n * (size_t)bits / 8; }
// Largest integer level: 127 (8 bits) or 7 (4 bits).
static inline int crvq_kvq_qmax(int bits) { return bits == 8 ? 127 : 7; }

// One group of n <= CRVQ_KVQ_GROUP values (n even at 4 bits): codes
// (crvq_kvq_row_bytes(bits, n)) and its fp16 scale.
void crvq_kvq_quantize_group(int bits, const float *x, int n, uint8_t *codes, uint16_t *scale);
void crvq_kvq_dequantize_group(int bits, const uint8_t *codes, uint16_t scale, int n, float *y);

// A row of n values (n even at 4 bits) in crvq_kvq_groups(n) groups:
// codes (crvq_kvq_row_bytes(bits, n)), scales (crvq_kvq_groups(n)).
void crvq_kvq_quantize(int bits, const float *x, int n, uint8_t *codes, uint16_t *scales);
void crvq_kvq_dequantize(int bits, const uint8_t *codes, const uint16_t *scales, int n, float *y);

// On a quantized row, without dequantizing it first: the dot product with
// q (n), and y (n) += a * row. Each group's integer products are summed
// before its scale multiplies them, so the float32 rounding differs from
// dequantizing first (by a few ulps of the sum).
float crvq_kvq_dot(int bits, const float *q, const uint8_t *codes, const uint16_t *scales, int n);
void crvq_kvq_axpy(int bits, float a, const uint8_t *codes, const uint16_t *scales, int n, float *y);

#endif
