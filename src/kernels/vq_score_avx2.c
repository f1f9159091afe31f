// vq_score_avx2.c — AVX2 + FMA codeword scoring (see vq_score.h): eight
// codewords per register; the tail (K % 8, only when K < 8) in scalar code
// with fmaf, so the scores equal the scalar reference bit for bit.
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#include "kernels/vq_score.h"

static inline __m256 score8(const float *ct, const float *q, const float *v, int d, int K, int j) {
    __m256 acc = _mm256_loadu_ps(q + j);
    for (int t = 0; t < d; t++)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(v[t]), _mm256_loadu_ps(ct + (size_t)t * K + j), acc);
    return acc;
}

static inline float score1(const float *ct, const float *q, const float *v, int d, int K, int j) {
    float s = q[j];
    for (int t = 0; t < d; t++) s = fmaf(v[t], ct[(size_t)t * K + j], s);
    return s;
}

int crvq_vq_argmin_avx2(const float *ct, const float *q, const float *v, int d, int K, float *best) {
    int K8 = K & ~7, j = 0, arg = 0;
    float lo = INFINITY;
    if (K8) {
        // Per lane: the smallest score seen and its (first) index.
        __m256 bv = score8(ct, q, v, d, K, 0);
        __m256i bi = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), idx = bi;
        const __m256i step = _mm256_set1_epi32(8);
        for (j = 8; j < K8; j += 8) {
            idx = _mm256_add_epi32(idx, step);
            __m256 s = score8(ct, q, v, d, K, j);
            __m256 lt = _mm256_cmp_ps(s, bv, _CMP_LT_OQ);
            bv = _mm256_blendv_ps(bv, s, lt);
            bi = _mm256_blendv_epi8(bi, idx, _mm256_castps_si256(lt));
        }
        float vals[8];
        int ids[8];
        _mm256_storeu_ps(vals, bv);
        _mm256_storeu_si256((__m256i *)ids, bi);
        lo = vals[0];
        arg = ids[0];
        for (int l = 1; l < 8; l++)
            if (vals[l] < lo || (vals[l] == lo && ids[l] < arg)) {
                lo = vals[l];
                arg = ids[l];
            }
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

void crvq_vq_scores_avx2(const float *ct, const float *q, const float *v, int d, int K, float *out) {
    int j = 0;
    for (; j + 8 <= K; j += 8) _mm256_storeu_ps(out + j, score8(ct, q, v, d, K, j));
    for (; j < K; j++) out[j] = score1(ct, q, v, d, K, j);
}
