// vq_lut_avx512.c — AVX-512 variant of the VQ / CRVQ inner loops (vq_lut.h).
// Compiled with -mavx512f/bw/vl/dq; called only when the CPU has them.
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

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

// crvq_vq_tquant_scalar 16 entries at a time: the same exact steps, and
// cvtps_epi32 rounds to nearest even as rintf does.
static void tquant_avx512(const float *T, int S, int K, int L, int8_t *Tq, float *qs) {
    const __m512 lim = _mm512_set1_ps(FLT_MAX), k256 = _mm512_set1_ps(256.0f);
    const __m512i top = _mm512_set1_epi32(127), bottom = _mm512_set1_epi32(-127);
    for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
        const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
        __m512 mx = _mm512_setzero_ps();
        __mmask16 bad = 0;
        for (int l = l0; l < l1; l++)
            for (int c = 0; c < K; c += 16) {
                const __mmask16 m = tail_mask(K - c);
                const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, T + (size_t)l * S + c));
                bad |= _mm512_mask_cmp_ps_mask(m, a, lim, _CMP_NLE_UQ);
                mx = _mm512_max_ps(mx, a);
            }
        float inv;
        crvq_vq_qlut_scale(bad ? INFINITY : _mm512_reduce_max_ps(mx), &qs[l0 / CRVQ_QLUT_CHUNK], &inv);
        memset(Tq + (size_t)l0 * 2 * CRVQ_QLUT_K, 0, (size_t)(l1 - l0) * 2 * CRVQ_QLUT_K);
        if (bad) continue;
        const __m512 vinv = _mm512_set1_ps(inv);
        for (int l = l0; l < l1; l++) {
            int8_t *hi = Tq + (size_t)l * 2 * CRVQ_QLUT_K, *lo = hi + CRVQ_QLUT_K;
            for (int c = 0; c < K; c += 16) {
                const __mmask16 m = tail_mask(K - c);
                const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, T + (size_t)l * S + c), vinv);
                const __m512i h = _mm512_cvtps_epi32(v);
                __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(h)), k256));
                r = _mm512_min_epi32(_mm512_max_epi32(r, bottom), top);
                _mm512_mask_cvtepi32_storeu_epi8(hi + c, m, h);
                _mm512_mask_cvtepi32_storeu_epi8(lo + c, m, r);
            }
        }
    }
}

const crvq_vq_kernels crvq_vq_kernels_avx512 = {
    .table = table_avx512,
    // Gathers (vpgatherdd) and in-register lookups (vpermt2ps on transposed
    // code tiles) both measured slower than four rows of scalar lookups on
    // Zen 5 with codes streamed from DRAM (docs/kernels.md): the table sums
    // stay scalar, with 8-byte code loads and prefetch (2.5x the reference's
    // speed with the codes streamed, on Zen 4)
    .gsum8 = crvq_vq_gsum8_words,
    .gsum16 = crvq_vq_gsum16_words,
    .dequant = dequant_avx512,
    .tquant = tquant_avx512,
    // without VBMI's byte permutes the quantized sums are the reference's
    .qsum = crvq_vq_qsum_scalar,
};

const crvq_vq_kernels crvq_vq_kernels_avx512vbmi = {
    .table = table_avx512,
    .gsum8 = crvq_vq_gsum8_words,
    .gsum16 = crvq_vq_gsum16_words,
    .dequant = dequant_avx512,
    .tquant = tquant_avx512,
    .qsum = crvq_vq_qsum_vbmi,
};
