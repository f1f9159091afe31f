// vq_lut_vbmi.c — the quantized table sums (vq_lut.h) with AVX-512 VBMI's
// byte permutes. Compiled with -mavx512vbmi on top of AVX-512; called only
// when crvq_isa_vbmi().
#include <immintrin.h>

#include "kernels/vq_lut.h"

// One 256-entry table of bytes (4 registers) looked up for 64 rows: vpermt2b
// takes 7 index bits over two registers, the code's top bit picks the pair.
static inline __m512i lookup256(const int8_t *t, __m512i idx, __mmask64 top) {
    const __m512i a = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), idx, _mm512_loadu_si512(t + 64));
    const __m512i b = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), idx, _mm512_loadu_si512(t + 192));
    return _mm512_mask_blend_epi8(top, a, b);
}

// y (16 rows) += qs * (256 hi + lo), from int16 partial sums of 16 rows
static inline __m512 chunk_add(__m512 y, __m256i hi, __m256i lo, __m512 qs) {
    const __m512i acc = _mm512_add_epi32(_mm512_slli_epi32(_mm512_cvtepi16_epi32(hi), 8), _mm512_cvtepi16_epi32(lo));
    return _mm512_add_ps(y, _mm512_mul_ps(qs, _mm512_cvtepi32_ps(acc)));
}

void crvq_vq_qsum_vbmi(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                       int accumulate) {
    enum { TILE = CRVQ_QLUT_TILE, K = CRVQ_QLUT_K };
    for (int t = 0; t < ntiles; t++) {
        const uint8_t *ct = tiles + (size_t)t * L * TILE;
        float *o = out + (size_t)t * TILE;
        __m512 y0 = _mm512_setzero_ps(), y1 = y0, y2 = y0, y3 = y0;
        if (accumulate) {
            y0 = _mm512_loadu_ps(o);
            y1 = _mm512_loadu_ps(o + 16);
            y2 = _mm512_loadu_ps(o + 32);
            y3 = _mm512_loadu_ps(o + 48);
        }
        for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
            const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
            // int16 partial sums of hi (h) and lo (g): rows 0-31 (h0, g0) and 32-63 (h1, g1)
            __m512i h0 = _mm512_setzero_si512(), h1 = h0, g0 = h0, g1 = h0;
            for (int l = l0; l < l1; l++) {
                const int8_t *tb = Tq + (size_t)l * 2 * K;
                const __m512i idx = _mm512_loadu_si512(ct + (size_t)l * TILE);
                const __mmask64 top = _mm512_movepi8_mask(idx);
                const __m512i hi = lookup256(tb, idx, top), lo = lookup256(tb + K, idx, top);
                h0 = _mm512_add_epi16(h0, _mm512_cvtepi8_epi16(_mm512_castsi512_si256(hi)));
                h1 = _mm512_add_epi16(h1, _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(hi, 1)));
                g0 = _mm512_add_epi16(g0, _mm512_cvtepi8_epi16(_mm512_castsi512_si256(lo)));
                g1 = _mm512_add_epi16(g1, _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(lo, 1)));
            }
            const __m512 s = _mm512_set1_ps(qs[l0 / CRVQ_QLUT_CHUNK]);
            y0 = chunk_add(y0, _mm512_castsi512_si256(h0), _mm512_castsi512_si256(g0), s);
            y1 = chunk_add(y1, _mm512_extracti64x4_epi64(h0, 1), _mm512_extracti64x4_epi64(g0, 1), s);
            y2 = chunk_add(y2, _mm512_castsi512_si256(h1), _mm512_castsi512_si256(g1), s);
            y3 = chunk_add(y3, _mm512_extracti64x4_epi64(h1, 1), _mm512_extracti64x4_epi64(g1, 1), s);
        }
        _mm512_storeu_ps(o, y0);
        _mm512_storeu_ps(o + 16, y1);
        _mm512_storeu_ps(o + 32, y2);
        _mm512_storeu_ps(o + 48, y3);
    }
}
