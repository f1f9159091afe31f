// vq_lut_avx512.c — AVX-512 variant of the VQ / CRVQ inner loops (vq_lut.h).
// Compiled with -mavx512f/bw/vl/dq; called only when the CPU has them.
#include <immintrin.h>

#include "kernels/vq_lut.h"

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

// 8 codeword columns of 16 at a time: eight independent FMA chains hide the
// FMA latency, and x[j] is broadcast once per 128 outputs.
static void table_avx512(const float *x, const float *cb_t, int d, int K, float *t) {
    int c = 0;
    for (; c + 128 <= K; c += 128) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int j = 0; j < d; j++) {
            const __m512 xj = _mm512_set1_ps(x[j]);
            const float *p = cb_t + (size_t)j * K + c;
            a0 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p), a0);
            a1 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 16), a1);
            a2 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 32), a2);
            a3 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 48), a3);
            a4 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 64), a4);
            a5 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 80), a5);
            a6 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 96), a6);
            a7 = _mm512_fmadd_ps(xj, _mm512_loadu_ps(p + 112), a7);
        }
        _mm512_storeu_ps(t + c, a0);
        _mm512_storeu_ps(t + c + 16, a1);
        _mm512_storeu_ps(t + c + 32, a2);
        _mm512_storeu_ps(t + c + 48, a3);
        _mm512_storeu_ps(t + c + 64, a4);
        _mm512_storeu_ps(t + c + 80, a5);
        _mm512_storeu_ps(t + c + 96, a6);
        _mm512_storeu_ps(t + c + 112, a7);
    }
    // small codebooks (e < 7) and the rest: 16 at a time, masked at the end
    for (; c < K; c += 16) {
        const __mmask16 m = tail_mask(K - c);
        __m512 a = _mm512_setzero_ps();
        for (int j = 0; j < d; j++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(x[j]), _mm512_maskz_loadu_ps(m, cb_t + (size_t)j * K + c), a);
        _mm512_mask_storeu_ps(t + c, m, a);
    }
}

// One row: 16 consecutive codes index 16 consecutive tables (lane i reads
// table l+i, hence the lane offsets i*S), so one gather fetches 16 terms.
// Two accumulators keep two gathers in flight.
static inline float gsum8_row(const float *T, int S, const uint8_t *c, int L, __m512i off) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int l = 0;
    for (; l + 32 <= L; l += 32) {
        __m512i i0 = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + l))), off);
        __m512i i1 = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + l + 16))), off);
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(i0, T + (size_t)l * S, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(i1, T + (size_t)(l + 16) * S, 4));
    }
    for (; l < L; l += 16) {
        const __mmask16 m = tail_mask(L - l);
        __m512i i = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, c + l)), off);
        a0 = _mm512_add_ps(a0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, T + (size_t)l * S, 4));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static inline float gsum16_row(const float *T, int S, const uint16_t *c, int L, __m512i off) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int l = 0;
    for (; l + 32 <= L; l += 32) {
        __m512i i0 = _mm512_add_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(c + l))), off);
        __m512i i1 = _mm512_add_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(c + l + 16))), off);
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(i0, T + (size_t)l * S, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(i1, T + (size_t)(l + 16) * S, 4));
    }
    for (; l < L; l += 16) {
        const __mmask16 m = tail_mask(L - l);
        __m512i i = _mm512_add_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, c + l)), off);
        a0 = _mm512_add_ps(a0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, T + (size_t)l * S, 4));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static inline __m512i lane_offsets(int S) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32(S));
}

static void gsum8_avx512(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr,
                         float *out, int accumulate) {
    const __m512i off = lane_offsets(S);
    for (int i = 0; i < nr; i++) {
        float s = gsum8_row(T, S, codes + (size_t)i * ld, L, off);
        out[i] = accumulate ? out[i] + s : s;
    }
}

static void gsum16_avx512(const float *T, int S, const uint16_t *codes, size_t ld, int L, int nr,
                          float *out, int accumulate) {
    const __m512i off = lane_offsets(S);
    for (int i = 0; i < nr; i++) {
        float s = gsum16_row(T, S, codes + (size_t)i * ld, L, off);
        out[i] = accumulate ? out[i] + s : s;
    }
}

static inline int code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

// Each vector of a row: its codewords summed and scaled, 16 floats at a time
// (a d = 8 vector is one half-masked register).
static void dequant_avx512(const crvq_vq_weights *W, int r0, int r1, float *w) {
    const int d = W->d, G = W->n_groups, E = W->M - 1;
    for (int r = r0; r < r1; r++) {
        float *wr = w + (size_t)(r - r0) * W->n_in;
        const __m512 s = _mm512_set1_ps(W->scales[r]);
        for (int g = 0; g < G; g++) {
            const float *c0 = W->cb[0] + (size_t)code_at(W->codes8, W->codes16, (size_t)r * G + g) * d;
            const float *ck[CRVQ_MAX_CODEBOOKS];
            const int ne = g < W->n_crit ? E : 0;
            for (int k = 1; k <= ne; k++) {
                size_t i = ((size_t)r * W->n_crit + g) * E + (k - 1);
                ck[k] = W->cb[k] + (size_t)code_at(W->ext8, W->ext16, i) * d;
            }
            float *o = wr + (size_t)g * d;
            for (int j = 0; j < d; j += 16) {
                const __mmask16 m = tail_mask(d - j);
                __m512 v = _mm512_maskz_loadu_ps(m, c0 + j);
                for (int k = 1; k <= ne; k++) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, ck[k] + j));
                _mm512_mask_storeu_ps(o + j, m, _mm512_mul_ps(v, s));
            }
        }
    }
}

const crvq_vq_kernels crvq_vq_kernels_avx512 = {
    .table = table_avx512,
    .gsum8 = gsum8_avx512,
    .gsum16 = gsum16_avx512,
    .dequant = dequant_avx512,
};
