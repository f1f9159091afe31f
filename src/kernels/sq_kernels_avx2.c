// sq_kernels_avx2.c — AVX2 variant of the scalar-quantized inner loops
// (sq_kernels.h): the AVX-512 scheme with 8 codes (bits whole bytes) at a
// time; group sizes that are not multiples of 8 use the scalar loops.
#include <immintrin.h>
#include <string.h>

#include "kernels/sq_kernels.h"

enum { UNPACK_BYTE8, UNPACK_BYTE_LANES, UNPACK_WORD_LANES };

typedef struct unpack8 {
    int mode, bits;
    __m128i shuf;   // BYTE_LANES: byte i = byte holding code i; WORD_LANES: word i = its two bytes
    __m256i shift;  // lane i: bit offset of code i inside its byte
    __m256i mask;   // 2^bits - 1
} unpack8;

static unpack8 unpack8_init(int bits) {
    unpack8 u;
    u.mode = bits == 8 ? UNPACK_BYTE8 : 8 % bits == 0 ? UNPACK_BYTE_LANES : UNPACK_WORD_LANES;
    u.bits = bits;
    _Alignas(32) int8_t sb[16];
    _Alignas(32) int32_t sh[8];
    for (int i = 0; i < 8; i++) {
        const int byte = i * bits >> 3;
        if (u.mode == UNPACK_WORD_LANES) {
            sb[2 * i] = (int8_t)byte;
            sb[2 * i + 1] = (int8_t)(byte + 1);
        } else {
            sb[i] = (int8_t)byte;
            sb[i + 8] = 0;
        }
        sh[i] = i * bits & 7;
    }
    u.shuf = _mm_load_si128((const __m128i *)sb);
    u.shift = _mm256_load_si256((const __m256i *)sh);
    u.mask = _mm256_set1_epi32((1 << bits) - 1);
    return u;
}

// The `bits` bytes of 8 codes at p in the low bytes of a register. An 8-byte
// load wherever 8 bytes remain before the end of all codes (`end`); a copy
// for the last blocks, so that nothing past the codes is read.
static inline __m128i load_block(const unpack8 *u, const uint8_t *p, const uint8_t *end) {
    if (end - p >= 8) return _mm_loadl_epi64((const __m128i *)p);
    uint8_t tmp[8] = {0};
    memcpy(tmp, p, (size_t)u->bits);
    return _mm_loadl_epi64((const __m128i *)tmp);
}

static inline __attribute__((always_inline)) __m256 unpack(const unpack8 *u, int mode, const uint8_t *p,
                                                           const uint8_t *end) {
    __m256i q;
    if (mode == UNPACK_BYTE8) {
        q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    } else if (mode == UNPACK_BYTE_LANES) {
        __m128i v = _mm_shuffle_epi8(load_block(u, p, end), u->shuf);
        q = _mm256_and_si256(_mm256_srlv_epi32(_mm256_cvtepu8_epi32(v), u->shift), u->mask);
    } else {
        __m128i v = _mm_shuffle_epi8(load_block(u, p, end), u->shuf);
        q = _mm256_and_si256(_mm256_srlv_epi32(_mm256_cvtepu16_epi32(v), u->shift), u->mask);
    }
    return _mm256_cvtepi32_ps(q);
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Two rows at a time: two FMA chains and one load of x for both.
static inline __attribute__((always_inline)) void matvec_mode(const crvq_scalar_weights *W, const unpack8 *u,
                                                              int mode, const float *x, const float *xsum,
                                                              int r0, int r1, float *y) {
    const int gs = W->group_size, G = W->n_gr, bits = W->bits;
    const uint8_t *end = W->q + (size_t)W->m_out * W->row_bytes;
    int r = r0;
    for (; r + 2 <= r1; r += 2) {
        const uint8_t *q0 = W->q + (size_t)r * W->row_bytes, *q1 = q0 + W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        float corr0 = 0.0f, corr1 = 0.0f;
        for (int g = 0; g < G; g++) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int c = g * gs; c < (g + 1) * gs; c += 8) {
                const __m256 xv = _mm256_loadu_ps(x + c);
                const size_t b = (size_t)c * bits >> 3;
                a0 = _mm256_fmadd_ps(unpack(u, mode, q0 + b, end), xv, a0);
                a1 = _mm256_fmadd_ps(unpack(u, mode, q1 + b, end), xv, a1);
            }
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[g]), a0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(sc[G + g]), a1, acc1);
            corr0 += sc[g] * ze[g] * xsum[g];
            corr1 += sc[G + g] * ze[G + g] * xsum[g];
        }
        y[r - r0] = hsum8(acc0) - corr0;
        y[r - r0 + 1] = hsum8(acc1) - corr1;
    }
    for (; r < r1; r++) {
        const uint8_t *q0 = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        __m256 acc = _mm256_setzero_ps();
        float corr = 0.0f;
        for (int g = 0; g < G; g++) {
            __m256 a = _mm256_setzero_ps();
            for (int c = g * gs; c < (g + 1) * gs; c += 8)
                a = _mm256_fmadd_ps(unpack(u, mode, q0 + ((size_t)c * bits >> 3), end), _mm256_loadu_ps(x + c), a);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(sc[g]), a, acc);
            corr += sc[g] * ze[g] * xsum[g];
        }
        y[r - r0] = hsum8(acc) - corr;
    }
}

static void matvec_avx2(const crvq_scalar_weights *W, const float *x, const float *xsum, int r0, int r1,
                        float *y) {
    if (W->group_size % 8) {
        crvq_sq_matvec_scalar(W, x, xsum, r0, r1, y);
        return;
    }
    const unpack8 u = unpack8_init(W->bits);
    switch (u.mode) {
    case UNPACK_BYTE8: matvec_mode(W, &u, UNPACK_BYTE8, x, xsum, r0, r1, y); break;
    case UNPACK_BYTE_LANES: matvec_mode(W, &u, UNPACK_BYTE_LANES, x, xsum, r0, r1, y); break;
    default: matvec_mode(W, &u, UNPACK_WORD_LANES, x, xsum, r0, r1, y); break;
    }
}

static inline __attribute__((always_inline)) void dequant_mode(const crvq_scalar_weights *W, const unpack8 *u,
                                                               int mode, int r0, int r1, float *w) {
    const int gs = W->group_size, G = W->n_gr, bits = W->bits;
    const uint8_t *end = W->q + (size_t)W->m_out * W->row_bytes;
    for (int r = r0; r < r1; r++) {
        const uint8_t *q = W->q + (size_t)r * W->row_bytes;
        const float *sc = W->scale + (size_t)r * G, *ze = W->zero + (size_t)r * G;
        float *wr = w + (size_t)(r - r0) * W->n_in;
        for (int g = 0; g < G; g++) {
            const __m256 s = _mm256_set1_ps(sc[g]), z = _mm256_set1_ps(ze[g]);
            for (int c = g * gs; c < (g + 1) * gs; c += 8)
                _mm256_storeu_ps(wr + c, _mm256_mul_ps(s, _mm256_sub_ps(unpack(u, mode, q + ((size_t)c * bits >> 3), end), z)));
        }
    }
}

static void dequant_avx2(const crvq_scalar_weights *W, int r0, int r1, float *w) {
    if (W->group_size % 8) {
        crvq_sq_dequant_scalar(W, r0, r1, w);
        return;
    }
    const unpack8 u = unpack8_init(W->bits);
    switch (u.mode) {
    case UNPACK_BYTE8: dequant_mode(W, &u, UNPACK_BYTE8, r0, r1, w); break;
    case UNPACK_BYTE_LANES: dequant_mode(W, &u, UNPACK_BYTE_LANES, r0, r1, w); break;
    default: dequant_mode(W, &u, UNPACK_WORD_LANES, r0, r1, w); break;
    }
}

const crvq_sq_kernels crvq_sq_kernels_avx2 = {
    .matvec = matvec_avx2,
    .dequant = dequant_avx2,
};
