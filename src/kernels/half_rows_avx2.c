// half_rows_avx2.c — AVX2 + F16C variants of half_rows.h: widening 8 values
// at a time (bf16: zero-extend and shift into the high half; fp16:
// vcvtph2ps), the tail by the scalar reference; and the one-token product
// with 4 accumulators of 8 lanes, in the order the scalar reference follows.
#include <immintrin.h>
#include <math.h>

#include "kernels/half_rows.h"

void crvq_half_to_f32_avx2(const uint16_t *src, crvq_dtype dt, size_t n, float *dst) {
    size_t i = 0;
    if (dt == CRVQ_BF16)
        for (; i + 8 <= n; i += 8) {
            __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
            _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
    else
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    crvq_half_to_f32_scalar(src + i, dt, n - i, dst + i);
}

static inline __m256 widen8(const uint16_t *p, crvq_dtype dt) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (dt == CRVQ_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

void crvq_half_matvec_avx2(const crvq_half_matrix *H, const float *x, int r0, int r1, float *y) {
    const int n = H->n_in, blocks = n / 32;
    const crvq_dtype dt = H->dt;
    for (int r = r0; r < r1; r++) {
        const uint16_t *w = H->w + (size_t)r * n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            const int c = 32 * b;
            a0 = _mm256_fmadd_ps(widen8(w + c, dt), _mm256_loadu_ps(x + c), a0);
            a1 = _mm256_fmadd_ps(widen8(w + c + 8, dt), _mm256_loadu_ps(x + c + 8), a1);
            a2 = _mm256_fmadd_ps(widen8(w + c + 16, dt), _mm256_loadu_ps(x + c + 16), a2);
            a3 = _mm256_fmadd_ps(widen8(w + c + 24, dt), _mm256_loadu_ps(x + c + 24), a3);
        }
        __m256 t = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)); // lanes j + j+4
        __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));                                 // [0]+[2], [1]+[3]
        float acc = _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
        for (int c = 32 * blocks; c < n; c++) {
            const float wc = dt == CRVQ_BF16 ? crvq_bf16_to_f32(w[c]) : crvq_f16_to_f32(w[c]);
            acc = fmaf(wc, x[c], acc);
        }
        y[r - r0] = acc;
    }
}
