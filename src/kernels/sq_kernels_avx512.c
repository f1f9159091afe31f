// sq_kernels_avx512.c — AVX-512 variant of the scalar-quantized inner loops
// (sq_kernels.h). 16 codes at a time become 16 int32 lanes: 8-bit codes by
// zero extension; 1-, 2- and 4-bit codes (never straddling a byte) by
// copying each byte to the lanes it feeds and shifting each lane by its own
// amount; 3-, 5-, 6- and 7-bit codes (straddling bytes) the same way through
// 16-bit windows. 16 codes of b bits are 2b whole bytes, so every block of 16
// starts on a byte; group sizes that are not multiples of 16 use the scalar
// loops.
#include <immintrin.h>

#include "kernels/sq_kernels.h"

enum { UNPACK_BYTE8, UNPACK_BYTE_LANES, UNPACK_WORD_LANES };

typedef struct unpack16 {
    int mode;
    __mmask16 load;  // the 2*bits bytes of 16 codes, for the last blocks of all codes
    __m128i shuf;    // UNPACK_BYTE_LANES: byte i = byte holding code i
    __m256i shuf_w;  // UNPACK_WORD_LANES: word i = the two bytes holding code i
    __m512i shift;   // lane i: bit offset of code i inside its byte
    __m512i mask;    // 2^bits - 1
} unpack16;

static unpack16 unpack16_init(int bits) {
    unpack16 u;
    u.mode = bits == 8 ? UNPACK_BYTE8 : 8 % bits == 0 ? UNPACK_BYTE_LANES : UNPACK_WORD_LANES;
    u.load = (__mmask16)((1u << (2 * bits)) - 1);
    _Alignas(64) int8_t sb[16], sw[32];
    _Alignas(64) int32_t sh[16];
    for (int i = 0; i < 16; i++) {
        const int byte = i * bits >> 3;
        sb[i] = (int8_t)byte;
        // both 128-bit halves of shuf_w see the same 16 source bytes
        sw[2 * i] = (int8_t)byte;
        sw[2 * i + 1] = (int8_t)(byte + 1);
        sh[i] = i * bits & 7;
    }
    u.shuf = _mm_load_si128((const __m128i *)sb);
    u.shuf_w = _mm256_load_si256((const __m256i *)sw);
    u.shift = _mm512_load_si512(sh);
    u.mask = _mm512_set1_epi32((1 << bits) - 1);
    return u;
}

// The 2*bits bytes of 16 codes at p, in the low bytes of a register. A
// plain 16-byte load wherever 16 bytes remain before the end of all codes;
// a masked one only at the very end. (Masked byte loads everywhere made the
// 2-bit product 1.9x slower on Zen 5.)
static inline __m128i load_block(const unpack16 *u, const uint8_t *p, const uint8_t *end) {
    if (end - p >= 16) return _mm_loadu_si128((const __m128i *)p);
    return _mm_maskz_loadu_epi8(u->load, p);
}

// 16 codes starting at byte p (codes end at `end`), as floats. Inlined into
// loops where u->mode is fixed, so the branch is resolved per layer, not
// per block.
static inline __attribute__((always_inline)) __m512 unpack(const unpack16 *u, int mode, const uint8_t *p,
                                                           const uint8_t *end) {
    __m512i q;
    if (mode == UNPACK_BYTE8) {
        q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    } else if (mode == UNPACK_BYTE_LANES) {
        __m128i v = _mm_shuffle_epi8(load_block(u, p, end), u->shuf);
        q = _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(v), u->shift), u->mask);
    } else {
        __m256i v = _mm256_broadcastsi128_si256(load_block(u, p, end));
        v = _mm256_shuffle_epi8(v, u->shuf_w);
        q = _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu16_epi32(v), u->shift), u->mask);
    }
    return _mm512_cvtepi32_ps(q);
}

// Four rows at a time share each load of x and give four independent FMA chains.
static inline __attribute__((always_inline)) void matvec_mode(const crvq_scalar_weights *W, const unpack16 *u,
                                                              int mode, const float *x, const float *xsum,
                                                              int r0, int r1, float *y) {
    const int gs = W->group_size, G = W->n_gr, bits = W->bits;
    const uint8_t *end = W->q + (size_t)W->m_out * W->row_bytes;
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *q0 = W->q + (size_t)r * W->row_bytes, *q1 = q0 + W->row_bytes, *q2 = q1 + W->row_bytes,
                      *q3 = q2 + W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        float corr0 = 0.0f, corr1 = 0.0f, corr2 = 0.0f, corr3 = 0.0f;
        for (int g = 0; g < G; g++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int c = g * gs; c < (g + 1) * gs; c += 16) {
                const __m512 xv = _mm512_loadu_ps(x + c);
                const size_t b = (size_t)c * bits >> 3;
                a0 = _mm512_fmadd_ps(unpack(u, mode, q0 + b, end), xv, a0);
                a1 = _mm512_fmadd_ps(unpack(u, mode, q1 + b, end), xv, a1);
                a2 = _mm512_fmadd_ps(unpack(u, mode, q2 + b, end), xv, a2);
                a3 = _mm512_fmadd_ps(unpack(u, mode, q3 + b, end), xv, a3);
            }
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[g]), a0, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[G + g]), a1, acc1);
            acc2 = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * G + g]), a2, acc2);
            acc3 = _mm512_fmadd_ps(_mm512_set1_ps(sc[3 * G + g]), a3, acc3);
            corr0 += sc[g] * ze[g] * xsum[g];
            corr1 += sc[G + g] * ze[G + g] * xsum[g];
            corr2 += sc[2 * G + g] * ze[2 * G + g] * xsum[g];
            corr3 += sc[3 * G + g] * ze[3 * G + g] * xsum[g];
        }
        y[r - r0] = _mm512_reduce_add_ps(acc0) - corr0;
        y[r - r0 + 1] = _mm512_reduce_add_ps(acc1) - corr1;
        y[r - r0 + 2] = _mm512_reduce_add_ps(acc2) - corr2;
        y[r - r0 + 3] = _mm512_reduce_add_ps(acc3) - corr3;
    }
    for (; r < r1; r++) {
        const uint8_t *q0 = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        __m512 acc = _mm512_setzero_ps();
        float corr = 0.0f;
        for (int g = 0; g < G; g++) {
            __m512 a = _mm512_setzero_ps();
            for (int c = g * gs; c < (g + 1) * gs; c += 16)
                a = _mm512_fmadd_ps(unpack(u, mode, q0 + ((size_t)c * bits >> 3), end), _mm512_loadu_ps(x + c), a);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(sc[g]), a, acc);
            corr += sc[g] * ze[g] * xsum[g];
        }
        y[r - r0] = _mm512_reduce_add_ps(acc) - corr;
    }
}

static void matvec_avx512(const crvq_scalar_weights *W, const float *x, const float *xsum, int r0, int r1,
                          float *y) {
    if (W->group_size % 16) {
        crvq_sq_matvec_scalar(W, x, xsum, r0, r1, y);
        return;
    }
    const unpack16 u = unpack16_init(W->bits);
    switch (u.mode) {
    case UNPACK_BYTE8: matvec_mode(W, &u, UNPACK_BYTE8, x, xsum, r0, r1, y); break;
    case UNPACK_BYTE_LANES: matvec_mode(W, &u, UNPACK_BYTE_LANES, x, xsum, r0, r1, y); break;
    default: matvec_mode(W, &u, UNPACK_WORD_LANES, x, xsum, r0, r1, y); break;
    }
}

static inline __attribute__((always_inline)) void dequant_mode(const crvq_scalar_weights *W, const unpack16 *u,
                                                               int mode, int r0, int r1, float *w) {
    const int gs = W->group_size, G = W->n_gr, bits = W->bits;
    const uint8_t *end = W->q + (size_t)W->m_out * W->row_bytes;
    for (int r = r0; r < r1; r++) {
        const uint8_t *q = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        float *wr = w + (size_t)(r - r0) * W->n_in;
        for (int g = 0; g < G; g++) {
            const __m512 s = _mm512_set1_ps(sc[g]), z = _mm512_set1_ps(ze[g]);
            // scale * (q - zero), rounded once, as the reference dequantizer
            for (int c = g * gs; c < (g + 1) * gs; c += 16)
                _mm512_storeu_ps(wr + c, _mm512_mul_ps(s, _mm512_sub_ps(unpack(u, mode, q + ((size_t)c * bits >> 3), end), z)));
        }
    }
}

static void dequant_avx512(const crvq_scalar_weights *W, int r0, int r1, float *w) {
    if (W->group_size % 16) {
        crvq_sq_dequant_scalar(W, r0, r1, w);
        return;
    }
    const unpack16 u = unpack16_init(W->bits);
    switch (u.mode) {
    case UNPACK_BYTE8: dequant_mode(W, &u, UNPACK_BYTE8, r0, r1, w); break;
    case UNPACK_BYTE_LANES: dequant_mode(W, &u, UNPACK_BYTE_LANES, r0, r1, w); break;
    default: dequant_mode(W, &u, UNPACK_WORD_LANES, r0, r1, w); break;
    }
}

const crvq_sq_kernels crvq_sq_kernels_avx512 = {
    .matvec = matvec_avx512,
    .dequant = dequant_avx512,
};
