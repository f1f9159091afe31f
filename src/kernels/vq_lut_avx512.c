// vq_lut_avx512.c — AVX-512 variant of the VQ / CRVQ inner loops (vq_lut.h).
// Compiled with -mavx512f/bw/vl/dq; called only when the CPU has them.
#include <immintrin.h>
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

// ---- table sums for 256-entry tables with uint8 codes (e = 8, the default)
//
// Gathers (vpgatherdd) are slow on AMD cores, and so are scalar loads at two
// per lookup. Instead, one table of 256 floats is held in 16 registers and
// 16 rows are looked up at once in registers: vpermt2ps picks from 32
// entries by the low 5 bits of each code, and three levels of blends on bits
// 5, 6, 7 choose among the 8 results. That needs the codes of 16 rows for
// one table side by side, i.e. the (rows, tables) code block transposed,
// which the loop below does 16 rows x 64 tables at a time in registers.

#define PERM_ROWS 256  // rows per pass: each table is loaded once for 256 rows
#define PERM_CHUNK 64  // tables per transposed block of codes

// Where the 16 codes of table l (< 64) of a 16-row tile sit after
// transpose16: register rev4(l % 16), 128-bit lane l / 16.
static inline size_t tile_offset(int l) {
    static const uint8_t rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    return (size_t)rev4[l & 15] * 64 + (size_t)(l >> 4) * 16;
}

// Codes of 16 rows (row stride ld) x cl <= 64 tables into a 1 KiB tile,
// table l's 16 codes (row order) at tile + tile_offset(l). Four rounds of
// interleaving register pairs (bytes, then 2-, 4-, 8-byte units) transpose
// each 128-bit lane as a 16 x 16 byte block; register R, lane q then holds
// table 16q + bitreverse4(R). The registers are stored whole: extracting
// the 64 lanes into table order cost more than the lookups read back.
static void transpose16(const uint8_t *c, size_t ld, int cl, uint8_t *tile) {
    const __mmask64 m = cl >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << cl) - 1);
    __m512i a[16], b[16];
    if (cl == 64)
        for (int i = 0; i < 16; i++) a[i] = _mm512_loadu_si512(c + (size_t)i * ld);
    else
        for (int i = 0; i < 16; i++) a[i] = _mm512_maskz_loadu_epi8(m, c + (size_t)i * ld);
#define ROUND(lo, hi, x, y)                              \
    for (int i = 0; i < 8; i++) {                        \
        y[i] = lo(x[2 * i], x[2 * i + 1]);               \
        y[i + 8] = hi(x[2 * i], x[2 * i + 1]);           \
    }
    ROUND(_mm512_unpacklo_epi8, _mm512_unpackhi_epi8, a, b)
    ROUND(_mm512_unpacklo_epi16, _mm512_unpackhi_epi16, b, a)
    ROUND(_mm512_unpacklo_epi32, _mm512_unpackhi_epi32, a, b)
    ROUND(_mm512_unpacklo_epi64, _mm512_unpackhi_epi64, b, a)
#undef ROUND
    for (int R = 0; R < 16; R++) _mm512_store_si512((__m512i *)(tile + (size_t)R * 64), a[R]);
}

// t[idx] for 16 codes, t held in 16 registers (256 floats).
static inline __m512 lookup256(const __m512 *t, __m512i idx) {
    const __mmask16 b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
    const __mmask16 b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
    const __mmask16 b7 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(128));
    __m512 q0 = _mm512_mask_blend_ps(b5, _mm512_permutex2var_ps(t[0], idx, t[1]), _mm512_permutex2var_ps(t[2], idx, t[3]));
    __m512 q1 = _mm512_mask_blend_ps(b5, _mm512_permutex2var_ps(t[4], idx, t[5]), _mm512_permutex2var_ps(t[6], idx, t[7]));
    __m512 q2 = _mm512_mask_blend_ps(b5, _mm512_permutex2var_ps(t[8], idx, t[9]), _mm512_permutex2var_ps(t[10], idx, t[11]));
    __m512 q3 = _mm512_mask_blend_ps(b5, _mm512_permutex2var_ps(t[12], idx, t[13]), _mm512_permutex2var_ps(t[14], idx, t[15]));
    return _mm512_mask_blend_ps(b7, _mm512_mask_blend_ps(b6, q0, q1), _mm512_mask_blend_ps(b6, q2, q3));
}

// One step of the table sums: rows [r0, r0 + nb) (nb <= PERM_ROWS) against
// tables [l0, l0 + cl) (cl <= PERM_CHUNK).
typedef struct perm_step {
    int r0, nb, l0, cl;
} perm_step;

static perm_step perm_step_at(int s, int L, int nr) {
    const int n_chunks = (L + PERM_CHUNK - 1) / PERM_CHUNK;
    perm_step st;
    st.r0 = s / n_chunks * PERM_ROWS;
    st.l0 = s % n_chunks * PERM_CHUNK;
    st.nb = nr - st.r0 < PERM_ROWS ? nr - st.r0 : PERM_ROWS;
    st.cl = L - st.l0 < PERM_CHUNK ? L - st.l0 : PERM_CHUNK;
    return st;
}

// 16-row tile i (rows 16i.. of the step) of a step's codes into its 1 KiB
// slot of ct; rows past the end get code 0 (their sums are dropped).
static void perm_tile(const uint8_t *codes, size_t ld, perm_step st, int i, uint8_t *ct) {
    const uint8_t *c = codes + (size_t)(st.r0 + 16 * i) * ld + st.l0;
    uint8_t *tile = ct + (size_t)i * 1024;
    if (16 * i + 16 <= st.nb) {
        transpose16(c, ld, st.cl, tile);
    } else {
        for (int l = 0; l < st.cl; l++)
            for (int q = 0; q < 16; q++) tile[tile_offset(l) + q] = 16 * i + q < st.nb ? c[(size_t)q * ld + l] : 0;
    }
}

// Software-pipelined over steps: while the lookups of one step run, the
// codes of the next are loaded and transposed a tile every four tables. A
// step's 256 rows miss the cache together (the codes stream from DRAM in a
// whole model); transposing them all at once before the lookups stalled on
// those misses and made the kernel 1.4x slower than the scalar sums.
static void gsum8_perm256(const float *T, const uint8_t *codes, size_t ld, int L, int nr, float *out,
                          int accumulate) {
    _Alignas(64) uint8_t ct[2][PERM_CHUNK * PERM_ROWS]; // per step: PERM_ROWS / 16 tiles of 1 KiB
    _Alignas(64) float acc[PERM_ROWS];
    const int n_steps = (nr + PERM_ROWS - 1) / PERM_ROWS * ((L + PERM_CHUNK - 1) / PERM_CHUNK);
    perm_step st = perm_step_at(0, L, nr);
    for (int i = 0; i < (st.nb + 15) / 16; i++) perm_tile(codes, ld, st, i, ct[0]);
    for (int s = 0; s < n_steps; s++) {
        const uint8_t *cur = ct[s & 1];
        const int nb16 = (st.nb + 15) & ~15, has_next = s + 1 < n_steps;
        const perm_step nx = has_next ? perm_step_at(s + 1, L, nr) : st;
        const int next_tiles = has_next ? (nx.nb + 15) / 16 : 0;
        // the step after next: its code lines are prefetched during this step
        const perm_step pf = s + 2 < n_steps ? perm_step_at(s + 2, L, nr) : st;
        const int pf_rows = s + 2 < n_steps ? pf.nb : 0;
        const uint8_t *pf_codes = codes + (size_t)pf.r0 * ld + pf.l0;
        if (st.l0 == 0) memset(acc, 0, sizeof acc);
        int done = 0; // tiles of the next step transposed so far
        for (int l = 0; l < st.cl; l++) {
            for (int q = 4 * l; q < 4 * l + 4 && q < pf_rows; q++)
                _mm_prefetch((const char *)(pf_codes + (size_t)q * ld), _MM_HINT_T1);
            if ((l & 3) == 0 && done < next_tiles) perm_tile(codes, ld, nx, done++, ct[(s + 1) & 1]);
            const float *tl = T + (size_t)(st.l0 + l) * 256;
            __m512 t[16];
            for (int k = 0; k < 16; k++) t[k] = _mm512_loadu_ps(tl + 16 * k);
            const uint8_t *cg = cur + tile_offset(l);
            for (int i = 0; i < nb16; i += 16) {
                __m512i idx = _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(cg + (size_t)i * 64)));
                _mm512_store_ps(acc + i, _mm512_add_ps(_mm512_load_ps(acc + i), lookup256(t, idx)));
            }
        }
        while (done < next_tiles) perm_tile(codes, ld, nx, done++, ct[(s + 1) & 1]); // after a short step
        if (st.l0 + st.cl == L)
            for (int q = 0; q < st.nb; q++)
                out[st.r0 + q] = accumulate ? out[st.r0 + q] + acc[q] : acc[q];
        st = nx;
    }
}

static void gsum8_avx512(const float *T, int S, const uint8_t *codes, size_t ld, int L, int nr,
                         float *out, int accumulate) {
    if (S == 256) gsum8_perm256(T, codes, ld, L, nr, out, accumulate);
    else crvq_vq_gsum8_scalar(T, S, codes, ld, L, nr, out, accumulate);
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
    // wider codes index tables too large for registers; gathers lose to
    // scalar loads there as well
    .gsum16 = crvq_vq_gsum16_scalar,
    .dequant = dequant_avx512,
};
