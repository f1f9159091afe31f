// vq_score_avx512.c — AVX-512 codeword scoring (see vq_score.h): sixteen
// codewords per register; the tail (K % 16, only when K < 16) in scalar code
// with fmaf, so the scores equal the scalar reference bit for bit.
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#include "kernels/vq_score.h"

static inline __m512 score16(const float *ct, const float *q, const float *v, int d, int K, int j) {
    __m512 acc = _mm512_loadu_ps(q + j);
    for (int t = 0; t < d; t++)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(v[t]), _mm512_loadu_ps(ct + (size_t)t * K + j), acc);
    return acc;
}

static inline float score1(const float *ct, const float *q, const float *v, int d, int K, int j) {
    float s = q[j];
    for (int t = 0; t < d; t++) s = fmaf(v[t], ct[(size_t)t * K + j], s);
    return s;
}

int crvq_vq_argmin_avx512(const float *ct, const float *q, const float *v, int d, int K, float *best) {
    int K16 = K & ~15, j = 0, arg = 0;
    float lo = INFINITY;
    if (K16) {
        // Per lane: the smallest score seen and its (first) index.
        __m512 bv = score16(ct, q, v, d, K, 0);
        __m512i bi = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), idx = bi;
        const __m512i step = _mm512_set1_epi32(16);
        for (j = 16; j < K16; j += 16) {
            idx = _mm512_add_epi32(idx, step);
            __m512 s = score16(ct, q, v, d, K, j);
            __mmask16 lt = _mm512_cmp_ps_mask(s, bv, _CMP_LT_OQ);
            bv = _mm512_mask_mov_ps(bv, lt, s);
            bi = _mm512_mask_mov_epi32(bi, lt, idx);
        }
        // Smallest value over the lanes, then the smallest index holding it.
        lo = _mm512_reduce_min_ps(bv);
        __mmask16 at = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(lo), _CMP_EQ_OQ);
        arg = at ? _mm512_mask_reduce_min_epi32(at, bi) : 0; // no lane equal: all NaN
    }
    for (; j < K; j++) {
        float s = score1(ct, q, v, d, K, j);
        if (j == 0 || s < lo) {
            lo = s;
            arg = j;
        }
    }
    *best = lo;
    return arg;
}

void crvq_vq_scores_avx512(const float *ct, const float *q, const float *v, int d, int K, float *out) {
    int j = 0;
    for (; j + 16 <= K; j += 16) _mm512_storeu_ps(out + j, score16(ct, q, v, d, K, j));
    for (; j < K; j++) out[j] = score1(ct, q, v, d, K, j);
}
