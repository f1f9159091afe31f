// vq_lut.c — scalar reference of the VQ / CRVQ inner loops (vq_lut.h). The
// vector variants must agree with these to float rounding.
#include "kernels/vq_lut.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void table_scalar(const float *x, const float *cb_t, int d, int K, float *t) {
    for (int c = 0; c < K; c++) t[c] = 0.0f;
    // j outer: streams through cb_t (d, K) row by row, as the vector variants do
    for (int j = 0; j < d; j++) {
        const float xj = x[j];
        const float *cj = cb_t + (size_t)j * K;
        for (int c = 0; c < K; c++) t[c] += xj * cj[c];
    }
}

// Tables visited per pass over the rows: 32 tables of 256 floats (32 KiB)
// stay in L1 while every row of the block reads them, where a whole row at a
// time would walk all tables (512 KiB at n_in = 4096) and miss L1 on nearly
// every lookup. Measured on Zen 5: 1.6x faster than row-at-a-time.
#define GSUM_CHUNK 32

// Codes of one row for P consecutive tables, read as one load of P codes:
// P = 1 is one load per code (the reference); P = 8 / sizeof(code_t) reads 8
// bytes at a time and shifts the codes out of a register, so that the load
// ports serve table entries, not code bytes. Only whole words inside
// [l0, l1) are read, so nothing past a row's last code is touched.
static inline uint64_t gsum_word(const void *p, size_t bytes) {
    uint64_t w = 0;
    memcpy(&w, p, bytes);
    return w;
}

// Code j (< P) of a word whose P codes of `bits` bits were stored in memory order.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define GSUM_CODE(w, j, P, code_t) ((code_t)((w) >> (8 * sizeof(code_t) * ((P) - 1 - (j)))))
#else
#define GSUM_CODE(w, j, P, code_t) ((code_t)((w) >> (8 * sizeof(code_t) * (j))))
#endif

// The P codes of a word are shifted out by constants only when the loop over
// them is unrolled (GCC 12 at -O2/-O3 does not unroll it by itself, and a
// shift by %cl per code made the 8-byte loads 14-30% slower still).
#if defined(__clang__)
#define GSUM_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define GSUM_UNROLL _Pragma("GCC unroll 8")
#else
#define GSUM_UNROLL
#endif

// Software prefetch of the codes (PF = 1). A 256-row block of codes is read
// in 16 passes of 32 codes per row, each pass striding down the rows 512
// bytes apart, and the hardware prefetchers do not follow that: with the
// codes streamed from DRAM the sums took 1.9x their in-cache time on Zen 4
// (1.26 against 0.66 ms for 4096 x 4096). Two hints fix it (1.26 -> 0.51 ms
// together with P = 8; bench_kernels --gsum, docs/kernels.md):
//  - this pass's codes of the rows GSUM_PF_ROWS ahead, into L1 (the first
//    pass over a block finds nothing in cache);
//  - at each pass that starts a 64-byte stretch of the rows, the next
//    stretch of the same rows, into L2, a pass or two before it is read.
// Both stay inside the block's rows and codes [0, L): nothing else is
// touched. A prefetch changes no result.
#define GSUM_PF_ROWS 8
#if defined(__GNUC__) || defined(__clang__)
#define GSUM_PREFETCH(p, level) __builtin_prefetch((p), 0, (level))
#else
#define GSUM_PREFETCH(p, level) ((void)(p))
#endif

// Four rows at a time: four independent sums hide the latency of the float
// adds, and each table row is reached once for the four lookups. Every
// variant adds in one order (vq_lut.h), whatever P and PF: bit-identical results.
#define DEFINE_GSUM(name, code_t, P, PF)                                                           \
    void name(const float *T, int S, const code_t *codes, size_t ld, int L, int nr, float *out,   \
              int accumulate) {                                                                    \
        if (!accumulate)                                                                           \
            for (int i = 0; i < nr; i++) out[i] = 0.0f;                                            \
        for (int l0 = 0; l0 < L; l0 += GSUM_CHUNK) {                                               \
            const int l1 = L - l0 < GSUM_CHUNK ? L : l0 + GSUM_CHUNK;                              \
            /* byte offset of the next 64-byte stretch, when this pass starts one inside [0, L) */ \
            const size_t b0 = (size_t)l0 * sizeof(code_t);                                         \
            const int next = (PF) && b0 % 64 == 0 && b0 + 64 < (size_t)L * sizeof(code_t);         \
            int i = 0;                                                                             \
            for (; i + 4 <= nr; i += 4) {                                                          \
                const code_t *c0 = codes + (size_t)i * ld, *c1 = c0 + ld, *c2 = c1 + ld, *c3 = c2 + ld; \
                if ((PF) && i + GSUM_PF_ROWS + 4 <= nr) {                                          \
                    const code_t *p = c0 + (size_t)GSUM_PF_ROWS * ld + l0;                         \
                    GSUM_PREFETCH(p, 3);                                                           \
                    GSUM_PREFETCH(p + ld, 3);                                                      \
                    GSUM_PREFETCH(p + 2 * ld, 3);                                                  \
                    GSUM_PREFETCH(p + 3 * ld, 3);                                                  \
                }                                                                                  \
                if (next) {                                                                        \
                    GSUM_PREFETCH((const char *)(c0 + l0) + 64, 2);                                \
                    GSUM_PREFETCH((const char *)(c1 + l0) + 64, 2);                                \
                    GSUM_PREFETCH((const char *)(c2 + l0) + 64, 2);                                \
                    GSUM_PREFETCH((const char *)(c3 + l0) + 64, 2);                                \
                }                                                                                  \
                float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;                                  \
                int l = l0;                                                                        \
                for (; l + (P) <= l1; l += (P)) {                                                  \
                    const size_t nb = (P) * sizeof(code_t);                                        \
                    const uint64_t w0 = gsum_word(c0 + l, nb), w1 = gsum_word(c1 + l, nb);         \
                    const uint64_t w2 = gsum_word(c2 + l, nb), w3 = gsum_word(c3 + l, nb);         \
                    GSUM_UNROLL                                                                    \
                    for (int j = 0; j < (P); j++) {                                                \
                        const float *t = T + (size_t)(l + j) * S;                                  \
                        s0 += t[GSUM_CODE(w0, j, P, code_t)];                                      \
                        s1 += t[GSUM_CODE(w1, j, P, code_t)];                                      \
                        s2 += t[GSUM_CODE(w2, j, P, code_t)];                                      \
                        s3 += t[GSUM_CODE(w3, j, P, code_t)];                                      \
                    }                                                                              \
                }                                                                                  \
                for (; l < l1; l++) {                                                              \
                    const float *t = T + (size_t)l * S;                                            \
                    s0 += t[c0[l]];                                                                \
                    s1 += t[c1[l]];                                                                \
                    s2 += t[c2[l]];                                                                \
                    s3 += t[c3[l]];                                                                \
                }                                                                                  \
                out[i] += s0;                                                                      \
                out[i + 1] += s1;                                                                  \
                out[i + 2] += s2;                                                                  \
                out[i + 3] += s3;                                                                  \
            }                                                                                      \
            for (; i < nr; i++) {                                                                  \
                const code_t *c0 = codes + (size_t)i * ld;                                         \
                float s0 = 0.0f;                                                                   \
                for (int l = l0; l < l1; l++) s0 += T[(size_t)l * S + c0[l]];                      \
                out[i] += s0;                                                                      \
            }                                                                                      \
        }                                                                                          \
    }

// the reference: one load per code, no prefetch
DEFINE_GSUM(crvq_vq_gsum8_scalar, uint8_t, 1, 0)
DEFINE_GSUM(crvq_vq_gsum16_scalar, uint16_t, 1, 0)
// shipped by the AVX2 and AVX-512 variants: 8-byte loads and prefetch
DEFINE_GSUM(crvq_vq_gsum8_words, uint8_t, 8, 1)
DEFINE_GSUM(crvq_vq_gsum16_words, uint16_t, 4, 1)

static inline int code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

static void dequant_scalar(const crvq_vq_weights *W, int r0, int r1, float *w) {
    const int d = W->d, G = W->n_groups, E = W->M - 1;
    for (int r = r0; r < r1; r++) {
        float *wr = w + (size_t)(r - r0) * W->n_in;
        const float s = W->scales[r];
        for (int g = 0; g < G; g++) {
            const float *c0 = W->cb[0] + (size_t)code_at(W->codes8, W->codes16, (size_t)r * G + g) * d;
            float *o = wr + (size_t)g * d;
            memcpy(o, c0, (size_t)d * sizeof(float));
            if (g < W->n_crit)
                for (int k = 1; k <= E; k++) {
                    size_t i = ((size_t)r * W->n_crit + g) * E + (k - 1);
                    const float *ck = W->cb[k] + (size_t)code_at(W->ext8, W->ext16, i) * d;
                    for (int j = 0; j < d; j++) o[j] += ck[j];
                }
            for (int j = 0; j < d; j++) o[j] *= s;
        }
    }
}

// ------------------------------------------------ quantized look-up tables ---

void crvq_vq_qlut_scale(float amax, float *qs, float *inv) {
    if (!(amax <= FLT_MAX)) { // NaN or infinite
        *qs = NAN;
        *inv = 0.0f;
        return;
    }
    int k = -100;
    // amax / 127 = m 2^k with m in [0.5, 1): 2^k >= amax / 127, the least
    // such power unless m = 1/2, where 2^(k-1) is amax / 127 itself
    if (amax >= 0x1p-100f && frexpf(amax / 127.0f, &k) == 0.5f) k--;
    *qs = ldexpf(1.0f, k - 8);
    *inv = ldexpf(1.0f, -k);
}

// Chunk by chunk: the scale from the chunk's max |v|, then each entry's hi
// and lo. v * inv and v' - hi are exact (inv is a power of two; v' and hi
// are within 1/2 of each other), so a variant that computes them in vectors
// or fused gets the same bytes.
void crvq_vq_tquant_scalar(const float *T, int S, int K, int L, int8_t *Tq, float *qs) {
    for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
        const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
        float amax = 0.0f;
        int bad = 0;
        for (int l = l0; l < l1; l++)
            for (int c = 0; c < K; c++) {
                const float a = fabsf(T[(size_t)l * S + c]);
                bad |= !(a <= FLT_MAX);
                amax = a > amax ? a : amax;
            }
        float inv;
        crvq_vq_qlut_scale(bad ? INFINITY : amax, &qs[l0 / CRVQ_QLUT_CHUNK], &inv);
        memset(Tq + (size_t)l0 * 2 * CRVQ_QLUT_K, 0, (size_t)(l1 - l0) * 2 * CRVQ_QLUT_K);
        if (bad) continue; // qs is NaN: the entries do not matter
        for (int l = l0; l < l1; l++) {
            int8_t *hi = Tq + (size_t)l * 2 * CRVQ_QLUT_K, *lo = hi + CRVQ_QLUT_K;
            for (int c = 0; c < K; c++) {
                const float v = T[(size_t)l * S + c] * inv, h = rintf(v);
                const float r = rintf((v - h) * 256.0f);
                hi[c] = (int8_t)h;
                lo[c] = (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
            }
        }
    }
}

// Tile by tile, chunk by chunk: the chunk's 32 tables (16 KiB) stay in L1
// while the tile's 64 rows read them.
void crvq_vq_qsum_scalar(const int8_t *Tq, const float *qs, const uint8_t *tiles, int L, int ntiles, float *out,
                         int accumulate) {
    enum { TILE = CRVQ_QLUT_TILE };
    for (int t = 0; t < ntiles; t++) {
        const uint8_t *ct = tiles + (size_t)t * L * TILE;
        float *o = out + (size_t)t * TILE;
        if (!accumulate)
            for (int i = 0; i < TILE; i++) o[i] = 0.0f;
        for (int l0 = 0; l0 < L; l0 += CRVQ_QLUT_CHUNK) {
            const int l1 = L - l0 < CRVQ_QLUT_CHUNK ? L : l0 + CRVQ_QLUT_CHUNK;
            for (int i = 0; i < TILE; i++) {
                int32_t acc = 0;
                for (int l = l0; l < l1; l++) {
                    const int8_t *h = Tq + (size_t)l * 2 * CRVQ_QLUT_K;
                    const int c = ct[(size_t)l * TILE + i];
                    acc += 256 * h[c] + h[CRVQ_QLUT_K + c];
                }
                o[i] += qs[l0 / CRVQ_QLUT_CHUNK] * (float)acc;
            }
        }
    }
}

const crvq_vq_kernels crvq_vq_kernels_scalar = {
    .table = table_scalar,
    .gsum8 = crvq_vq_gsum8_scalar,
    .gsum16 = crvq_vq_gsum16_scalar,
    .dequant = dequant_scalar,
    .tquant = crvq_vq_tquant_scalar,
    .qsum = crvq_vq_qsum_scalar,
};

const crvq_vq_kernels *crvq_vq_kernels_active(void) {
    switch (crvq_isa_active()) {
    case CRVQ_ISA_AVX512: return crvq_isa_vbmi() ? &crvq_vq_kernels_avx512vbmi : &crvq_vq_kernels_avx512;
    case CRVQ_ISA_AVX2: return &crvq_vq_kernels_avx2;
    case CRVQ_ISA_SCALAR: break;
    }
    return &crvq_vq_kernels_scalar;
}
