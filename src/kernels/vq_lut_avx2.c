// vq_lut_avx2.c — AVX2 variant of the VQ / CRVQ inner loops (vq_lut.h).
// Compiled with -mavx2 -mfma; called only when the CPU has them.
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/vq_lut.h"

// Lanes [0, n) set, for maskload/maskstore of the last n < 8 floats.
static inline __m256i tail_mask8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void table_avx2(const float *x, const float *cb_t, int d, int K, float *t) {
    int c = 0;
    // eight accumulators of 8 codewords: enough independent FMA chains
    for (; c + 64 <= K; c += 64) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int j = 0; j < d; j++) {
            const __m256 xj = _mm256_set1_ps(x[j]);
            const float *p = cb_t + (size_t)j * K + c;
            a0 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p), a0);
            a1 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 8), a1);
            a2 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 16), a2);
            a3 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 24), a3);
            a4 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 32), a4);
            a5 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 40), a5);
            a6 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 48), a6);
            a7 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(p + 56), a7);
        }
        _mm256_storeu_ps(t + c, a0);
        _mm256_storeu_ps(t + c + 8, a1);
        _mm256_storeu_ps(t + c + 16, a2);
        _mm256_storeu_ps(t + c + 24, a3);
        _mm256_storeu_ps(t + c + 32, a4);
        _mm256_storeu_ps(t + c + 40, a5);
        _mm256_storeu_ps(t + c + 48, a6);
        _mm256_storeu_ps(t + c + 56, a7);
    }
    for (; c < K; c += 8) {
        const __m256i m = tail_mask8(K - c);
        __m256 a = _mm256_setzero_ps();
        for (int j = 0; j < d; j++)
            a = _mm256_fmadd_ps(_mm256_set1_ps(x[j]), _mm256_maskload_ps(cb_t + (size_t)j * K + c, m), a);
        _mm256_maskstore_ps(t + c, m, a);
    }
}

static inline int code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

static void dequant_avx2(const crvq_vq_weights *W, int r0, int r1, float *w) {
    const int d = W->d, G = W->n_groups, E = W->M - 1;
    for (int r = r0; r < r1; r++) {
        float *wr = w + (size_t)(r - r0) * W->n_in;
        const __m256 s = _mm256_set1_ps(W->scales[r]);
        for (int g = 0; g < G; g++) {
            const float *c0 = W->cb[0] + (size_t)code_at(W->codes8, W->codes16, (size_t)r * G + g) * d;
            const float *ck[CRVQ_MAX_CODEBOOKS];
            const int ne = g < W->n_crit ? E : 0;
            for (int k = 1; k <= ne; k++) {
                size_t i = ((size_t)r * W->n_crit + g) * E + (k - 1);
                ck[k] = W->cb[k] + (size_t)code_at(W->ext8, W->ext16, i) * d;
            }
            float *o = wr + (size_t)g * d;
            int j = 0;
            for (; j + 8 <= d; j += 8) {
                __m256 v = _mm256_loadu_ps(c0 + j);
                for (int k = 1; k <= ne; k++) v = _mm256_add_ps(v, _mm256_loadu_ps(ck[k] + j));
                _mm256_storeu_ps(o + j, _mm256_mul_ps(v, s));
            }
            if (j < d) {
                const __m256i m = tail_mask8(d - j);
                __m256 v = _mm256_maskload_ps(c0 + j, m);
                for (int k = 1; k <= ne; k++) v = _mm256_add_ps(v, _mm256_maskload_ps(ck[k] + j, m));
                _mm256_maskstore_ps(o + j, m, _mm256_mul_ps(v, s));
            }
        }
    }
}

static float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// crvq_vq_tquant_scalar 8 entries at a time (the reference itself for
// tables of fewer than 8): the same exact steps, and cvtps_epi32 rounds to
// nearest even as rintf does.
static void tquant_avx2(const float *T, int S, int K, int L, int8_t *Tq, float *qs) {
    if (K % 8) {
        crvq_vq_tquant_scalar(T, S, K, L, Tq, qs);
        return;
    }
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), lim = _mm256_set1_ps(FLT_MAX);
    const __m256 k256 = _mm256_set1_ps(256.0f);
    const __m256i top = _mm256_set1_epi32(127), bottom = _mm256_set1_epi32(-127);
    for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
        const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
        __m256 mx = _mm256_setzero_ps();
        int bad = 0;
        for (int l = l0; l < l1; l++)
            for (int c = 0; c < K; c += 8) {
                const __m256 a = _mm256_and_ps(_mm256_loadu_ps(T + (size_t)l * S + c), absm);
                bad |= _mm256_movemask_ps(_mm256_cmp_ps(a, lim, _CMP_NLE_UQ));
                mx = _mm256_max_ps(mx, a);
            }
        float inv;
        crvq_vq_qlut_scale(bad ? INFINITY : hmax8(mx), &qs[l0 / CRVQ_QLUT_CHUNK], &inv);
        memset(Tq + (size_t)l0 * 2 * CRVQ_QLUT_K, 0, (size_t)(l1 - l0) * 2 * CRVQ_QLUT_K);
        if (bad) continue;
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int l = l0; l < l1; l++) {
            int8_t *hi = Tq + (size_t)l * 2 * CRVQ_QLUT_K, *lo = hi + CRVQ_QLUT_K;
            for (int c = 0; c < K; c += 8) {
                const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(T + (size_t)l * S + c), vinv);
                const __m256i h = _mm256_cvtps_epi32(v);
                __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(v, _mm256_cvtepi32_ps(h)), k256));
                r = _mm256_min_epi32(_mm256_max_epi32(r, bottom), top);
                int32_t hv[8], rv[8];
                _mm256_storeu_si256((__m256i *)hv, h);
                _mm256_storeu_si256((__m256i *)rv, r);
                for (int j = 0; j < 8; j++) {
                    hi[c + j] = (int8_t)hv[j];
                    lo[c + j] = (int8_t)rv[j];
                }
            }
        }
    }
}

const crvq_vq_kernels crvq_vq_kernels_avx2 = {
    .table = table_avx2,
    // AVX2 gathers (vpgatherdd ymm) measured slower than four rows of scalar
    // lookups on Zen 5: the table sums stay scalar, with 8-byte code loads
    // and prefetch (vq_lut.c)
    .gsum8 = crvq_vq_gsum8_words,
    .gsum16 = crvq_vq_gsum16_words,
    .dequant = dequant_avx2,
    .tquant = tquant_avx2,
    // (no byte permute of 256 entries in AVX2: the reference's sums)
    .qsum = crvq_vq_qsum_scalar,
};
