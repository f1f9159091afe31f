// vq_weights.c — VQ / CRVQ weights: the stored form's checks, the runtime
// weights built from it, and the two paths of y = x Ŵᵀ (look-up tables for
// few tokens, expanded row tiles and sgemm for many). See vq_weights.h and
// docs/kernels.md.
#include "kernels/vq_weights.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scratch.h"
#include "kernels/vq_lut.h"
#include "util/error.h"

// ------------------------------------------------------- the stored form ---

static int max_ext_bits(const int *e, int M) {
    int b = 0;
    for (int k = 1; k < M; k++) b = e[k] > b ? e[k] : b;
    return b;
}

int crvq_vq_code_bytes(const int *e, int first, int last) {
    for (int k = first; k < last; k++)
        if (e[k] > 8) return 2;
    return 1;
}

void crvq_vq_layer_free(crvq_vq_layer *L) {
    if (!L) return;
    free(L->owned);
    memset(L, 0, sizeof *L);
}

size_t crvq_vq_layer_bytes(const crvq_vq_layer *L) {
    size_t b = (size_t)L->m_out * L->n_groups * crvq_vq_code_bytes(L->e, 0, 1) + (size_t)L->m_out * 2;
    if (L->codes_ext) b += (size_t)L->m_out * L->n_crit * (L->M - 1) * crvq_vq_code_bytes(L->e, 1, L->M);
    for (int k = 0; k < L->M; k++) b += ((size_t)1 << L->e[k]) * L->d * 2;
    if (L->perm) b += (size_t)L->n_in * 4;
    return b;
}

// Codes must index inside their codebook. Code i of an array belongs to
// codebook e[i % period] (period 1: the basic codes; M-1: the extended codes,
// whose e starts at e[1]).
static crvq_status check_codes(const void *codes, int bytes, size_t n, const int *e, int period, const char *what,
                               const char *name) {
    for (size_t i = 0; i < n; i++) {
        int b = e[i % (size_t)period];
        unsigned c = crvq_vq_code_at(codes, bytes, i);
        if (c >> b)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s code %u at %zu does not fit %d bits", what, name, c, i, b);
    }
    return CRVQ_OK;
}

// The code width bounds the codes by itself (e = 8 in uint8, 16 in uint16):
// only other widths need the scan.
static int codes_need_check(const int *e, int first, int last, int bytes) {
    for (int k = first; k < last; k++)
        if (e[k] != 8 * bytes) return 1;
    return 0;
}

// Shapes, codebook widths and that every code fits its codebook.
static crvq_status check_layer(const crvq_vq_layer *L, const char *what) {
    const int m = L->m_out, n = L->n_in, d = L->d, M = L->M;
    if (m <= 0 || n <= 0 || d <= 0 || n % d || L->n_groups != n / d)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: bad shape %d x %d with vector dimension %d", what, m, n, d);
    if (M < 1 || M > CRVQ_MAX_CODEBOOKS)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %d codebooks (1..%d supported)", what, M, CRVQ_MAX_CODEBOOKS);
    for (int k = 0; k < M; k++) {
        if (L->e[k] < 1 || L->e[k] > 16)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: codebook %d has %d bits (1..16 supported)", what, k, L->e[k]);
        if (!L->codebooks[k]) return crvq_fail(CRVQ_ERR_FORMAT, "%s: codebook %d missing", what, k);
    }
    const int G = L->n_groups;
    if (L->n_crit < 0 || L->n_crit > G)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %d critical groups of %d", what, L->n_crit, G);
    const int n_ext = L->n_crit * (M - 1);
    if (!L->codes || !L->scales || (n_ext > 0) != (L->codes_ext != NULL))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: codes, extended codes or scales missing", what);

    const int b0 = crvq_vq_code_bytes(L->e, 0, 1), bx = crvq_vq_code_bytes(L->e, 1, M);
    crvq_status st = CRVQ_OK;
    if (codes_need_check(L->e, 0, 1, b0)) st = check_codes(L->codes, b0, (size_t)m * G, L->e, 1, what, "basic");
    if (st == CRVQ_OK && n_ext > 0 && codes_need_check(L->e, 1, M, bx))
        st = check_codes(L->codes_ext, bx, (size_t)m * n_ext, L->e + 1, M - 1, what, "extended");
    return st;
}

// ----------------------------------------------------- the runtime weights ---

// The float32 caches of codebook k from the stored fp16 h (K, d): into cb
// as (K, d) and transposed (d, K) into cbt.
static void cache_codebook(const uint16_t *h, int K, int d, float *cb, float *cbt) {
    for (int c = 0; c < K; c++)
        for (int j = 0; j < d; j++) {
            float v = crvq_f16_to_f32(h[(size_t)c * d + j]);
            cb[(size_t)c * d + j] = v;
            cbt[(size_t)j * K + c] = v;
        }
}

// src (n) into dst if it is a permutation: every column exactly once.
static crvq_status copy_perm(int32_t *dst, const int32_t *src, int n, const char *what) {
    memset(dst, 0xff, (size_t)n * 4);
    for (int j = 0; j < n; j++) {
        int32_t c = src[j];
        if (c < 0 || c >= n || dst[c] >= 0)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: perm is not a permutation (entry %d = %d)", what, j, (int)c);
        dst[c] = 0;
    }
    memcpy(dst, src, (size_t)n * 4);
    return CRVQ_OK;
}

// codes (m, L) into the tiled layout (vq_lut.h): tiles (ceil(m / 64), L, 64),
// rows past m code 0.
static void tile_codes(const uint8_t *codes, int m, int L, uint8_t *tiles) {
    const int T = CRVQ_QLUT_TILE, nt = (m + T - 1) / T;
    memset(tiles, 0, (size_t)nt * L * T);
    for (int r = 0; r < m; r++) {
        uint8_t *dst = tiles + (size_t)(r / T) * L * T + r % T;
        const uint8_t *src = codes + (size_t)r * L;
        for (int l = 0; l < L; l++) dst[(size_t)l * T] = src[l];
    }
}

// The tiled copies of 1-byte codes (W->tiles8, W->ext_tiles8), when every
// code is 1 byte and the CPU has the VBMI sums that read them (elsewhere
// the copy would only take memory).
static crvq_status make_tiles(crvq_vq_weights *W, const char *what) {
    if (!crvq_isa_vbmi_supported() || !W->codes8 || (W->n_ext > 0 && !W->ext8)) return CRVQ_OK;
    const size_t nt = (size_t)(W->m_out + CRVQ_QLUT_TILE - 1) / CRVQ_QLUT_TILE;
    const size_t b0 = nt * W->n_groups * CRVQ_QLUT_TILE, bx = nt * W->n_ext * CRVQ_QLUT_TILE;
    W->tiles8 = aligned_alloc(64, crvq_scratch_align(b0 + bx));
    if (!W->tiles8) return crvq_fail(CRVQ_ERR_NOMEM, "%s: no memory for %zu bytes of tiled codes", what, b0 + bx);
    tile_codes(W->codes8, W->m_out, W->n_groups, W->tiles8);
    if (W->n_ext > 0) {
        W->ext_tiles8 = W->tiles8 + b0;
        tile_codes(W->ext8, W->m_out, W->n_ext, W->ext_tiles8);
    }
    return CRVQ_OK;
}

crvq_status crvq_vq_weights_from_layer(const crvq_vq_layer *L, const char *what, crvq_vq_weights **out) {
    *out = NULL;
    crvq_status st = check_layer(L, what);
    if (st != CRVQ_OK) return st;
    const int m = L->m_out, n = L->n_in, d = L->d, M = L->M, n_ext = L->n_crit * (M - 1);

    // one allocation: float32 codebooks (K, d) and (d, K), scales, perm, and
    // the stored form's own fp16 codebooks and scales
    size_t cb_n = 0;
    for (int k = 0; k < M; k++) cb_n += ((size_t)1 << L->e[k]) * d;
    const size_t sz_w = crvq_scratch_align(sizeof(crvq_vq_weights)), sz_cb = crvq_scratch_align(cb_n * 4),
                 sz_sc = crvq_scratch_align((size_t)m * 4), sz_perm = L->perm ? crvq_scratch_align((size_t)n * 4) : 0,
                 sz_h = crvq_scratch_align(cb_n * 2);
    const size_t bytes = sz_w + 2 * sz_cb + sz_sc + sz_perm + sz_h + crvq_scratch_align((size_t)m * 2);
    char *blk = aligned_alloc(64, bytes);
    if (!blk) return crvq_fail(CRVQ_ERR_NOMEM, "%s: no memory for %zu bytes of weights", what, bytes);
    crvq_vq_weights *W = (crvq_vq_weights *)blk;
    memset(W, 0, sizeof *W);
    float *cb = (float *)(blk + sz_w), *cbt = (float *)(blk + sz_w + sz_cb);
    float *sc = (float *)(blk + sz_w + 2 * sz_cb);
    int32_t *perm = (int32_t *)(blk + sz_w + 2 * sz_cb + sz_sc);
    uint16_t *h = (uint16_t *)(blk + sz_w + 2 * sz_cb + sz_sc + sz_perm), *hs = h + sz_h / 2;
    if (L->perm && (st = copy_perm(perm, L->perm, n, what)) != CRVQ_OK) {
        free(blk);
        return st;
    }

    W->layer = *L;
    W->layer.owned = NULL;
    W->layer.perm = L->perm ? perm : NULL;
    W->m_out = m;
    W->n_in = n;
    W->d = d;
    W->M = M;
    memcpy(W->e, L->e, sizeof W->e);
    W->n_groups = L->n_groups;
    W->n_crit = L->n_crit;
    W->n_ext = n_ext;
    W->K0 = 1 << L->e[0];
    W->Kx = n_ext > 0 ? 1 << max_ext_bits(L->e, M) : 0;
    for (int k = 0; k < M; k++) {
        const int K = 1 << L->e[k];
        memcpy(h, L->codebooks[k], (size_t)K * d * 2);
        cache_codebook(h, K, d, cb, cbt);
        W->layer.codebooks[k] = h;
        W->cb[k] = cb;
        W->cb_t[k] = cbt;
        h += (size_t)K * d;
        cb += (size_t)K * d;
        cbt += (size_t)K * d;
    }
    memcpy(hs, L->scales, (size_t)m * 2);
    for (int r = 0; r < m; r++) sc[r] = crvq_f16_to_f32(hs[r]);
    W->layer.scales = hs;
    W->scales = sc;
    W->perm = W->layer.perm;
    if (crvq_vq_code_bytes(L->e, 0, 1) == 2) W->codes16 = L->codes;
    else W->codes8 = L->codes;
    if (n_ext > 0) {
        if (crvq_vq_code_bytes(L->e, 1, M) == 2) W->ext16 = L->codes_ext;
        else W->ext8 = L->codes_ext;
    }
    if ((st = make_tiles(W, what)) != CRVQ_OK) {
        free(blk);
        return st;
    }
    *out = W;
    return CRVQ_OK;
}

void crvq_vq_weights_take(crvq_vq_weights *W, crvq_vq_layer *L) {
    assert(!W->own_codes && W->layer.codes == L->codes);
    W->own_codes = L->owned;
    memset(L, 0, sizeof *L);
}

void crvq_vq_weights_free(crvq_vq_weights *W) {
    if (!W) return;
    free(W->own_codes);
    free(W->tiles8);
    free(W);
}

void crvq_vq_weights_set(crvq_vq_weights *W, int k, const float *cb, const float *scales) {
    // the stored form's codebooks and scales and their float32 caches always
    // point into W's own block (from_layer), so writing through them is safe
    // whatever the codes point into
    if (cb) {
        assert(k >= 0 && k < W->M);
        const int K = 1 << W->e[k], d = W->d;
        uint16_t *h = (uint16_t *)W->layer.codebooks[k];
        for (size_t i = 0; i < (size_t)K * d; i++) h[i] = crvq_f32_to_f16(cb[i]);
        cache_codebook(h, K, d, (float *)W->cb[k], (float *)W->cb_t[k]);
    }
    if (scales) {
        uint16_t *h = (uint16_t *)W->layer.scales;
        float *s = (float *)W->scales;
        for (int r = 0; r < W->m_out; r++) {
            h[r] = crvq_f32_to_f16(scales[r]);
            s[r] = crvq_f16_to_f32(h[r]);
        }
    }
}

size_t crvq_vq_weights_bytes(const crvq_vq_weights *W) { return crvq_vq_layer_bytes(&W->layer); }

// ---------------------------------------------------------------- forward ---

// Rows per call of the table sums: each call reads every table once, from L2
// or, at n_in 11008 (1.4 MiB of tables against Zen 4's 1 MiB L2), from L3, so
// larger blocks amortize that. The codes of a block are streamed 32 per row
// at a time (vq_lut.c prefetches them), so the block need not fit a cache.
// Measured on Zen 4, one thread, codes cold (bench_kernels --gsum's loop at
// both widths): 1024 rows against 256 cut the 4096 x 11008 sums from 1.43 to
// 1.26 ms and the 4096 x 4096 ones by 2%.
#define LUT_ROW_BLOCK 1024
// Below this many lookups (rows x codes) one thread does the whole product:
// an OpenMP region costs microseconds, more than small layers take.
#define LUT_PAR_MIN_LOOKUPS (1 << 16)

// Permuted copy of one input row: xp[j] = x[perm[j]].
static void permute_row(const int32_t *perm, const float *x, int n, float *xp) {
    for (int j = 0; j < n; j++) xp[j] = x[perm[j]];
}

// -1: not read from the environment yet (a benign race, as crvq_isa_active's)
static int qlut_on = -1;

int crvq_vq_qlut_enabled(void) {
    if (qlut_on < 0) {
        const char *env = getenv("CRVQ_QLUT");
        qlut_on = !(env && !strcmp(env, "0"));
    }
    return qlut_on;
}

void crvq_vq_qlut_enable(int on) { qlut_on = on != 0; }

// One thread's scratch of the one-token path, as byte offsets into its
// part: permuted input (n_in) | float tables T0 (G, K0) and Tx (n_ext, Kx)
// | with the quantized tables (q), their quantized forms and scales (vq_lut.h) and the sums
// of the thread's rows before scaling.
typedef struct lut_scratch {
    size_t x, t0, tx, q0, s0, qx, sx, y, per;
} lut_scratch;

static lut_scratch lut_scratch_layout(const crvq_vq_weights *W, int q, int max_tiles) {
    const size_t nc0 = (size_t)(W->n_groups + CRVQ_QLUT_CHUNK - 1) / CRVQ_QLUT_CHUNK;
    const size_t ncx = (size_t)(W->n_ext + CRVQ_QLUT_CHUNK - 1) / CRVQ_QLUT_CHUNK;
    lut_scratch s = {0};
    s.t0 = s.x + crvq_scratch_align((size_t)W->n_in * 4);
    s.tx = s.t0 + crvq_scratch_align((size_t)W->n_groups * W->K0 * 4);
    s.q0 = s.tx + crvq_scratch_align((size_t)W->n_ext * W->Kx * 4);
    s.s0 = s.q0 + (q ? crvq_scratch_align((size_t)W->n_groups * 2 * CRVQ_QLUT_K) : 0);
    s.qx = s.s0 + (q ? crvq_scratch_align(nc0 * 4) : 0);
    s.sx = s.qx + (q ? crvq_scratch_align((size_t)W->n_ext * 2 * CRVQ_QLUT_K) : 0);
    s.y = s.sx + (q ? crvq_scratch_align(ncx * 4) : 0);
    s.per = s.y + (q ? crvq_scratch_align((size_t)max_tiles * CRVQ_QLUT_TILE * 4) : 0);
    return s;
}

// Rows [64 t0, 64 t1) ∩ [0, m_out) of y (m_out) for one token whose input
// is x (n_in, original order).
static void lut_token(const crvq_vq_kernels *K, const crvq_vq_weights *W, int q, const float *x, int t0, int t1,
                      char *buf, const lut_scratch *s, float *y) {
    const int d = W->d, G = W->n_groups, E = W->M - 1, m = W->m_out;
    const int r0 = t0 * CRVQ_QLUT_TILE < m ? t0 * CRVQ_QLUT_TILE : m, r1 = t1 * CRVQ_QLUT_TILE < m ? t1 * CRVQ_QLUT_TILE : m;
    float *xp = (float *)(buf + s->x), *T0 = (float *)(buf + s->t0), *Tx = (float *)(buf + s->tx);
    if (W->perm) permute_row(W->perm, x, W->n_in, xp);
    const float *xin = W->perm ? xp : x;
    // T0[g][c] = <x_g, C0[c]>; Tx[g*E + k-1][c] = <x_g, Ck[c]> for critical g
    for (int g = 0; g < G; g++) K->table(xin + (size_t)g * d, W->cb_t[0], d, W->K0, T0 + (size_t)g * W->K0);
    if (q && W->n_ext > 0) // entries past a smaller codebook's are read by tquant: zero
        memset(Tx, 0, (size_t)W->n_ext * W->Kx * 4);
    for (int i = 0; i < W->n_ext; i++) {
        const int g = i / E, k = i % E + 1;
        K->table(xin + (size_t)g * d, W->cb_t[k], d, 1 << W->e[k], Tx + (size_t)i * W->Kx);
    }
    // y_r = s_r (Σ_g T0[g][codes[r,g]] + Σ_i Tx[i][codes_ext[r,i]])
    if (q) {
        int8_t *Q0 = (int8_t *)(buf + s->q0), *Qx = (int8_t *)(buf + s->qx);
        float *s0 = (float *)(buf + s->s0), *sx = (float *)(buf + s->sx), *acc = (float *)(buf + s->y);
        K->tquant(T0, W->K0, W->K0, G, Q0, s0);
        K->qsum(Q0, s0, W->tiles8 + (size_t)t0 * G * CRVQ_QLUT_TILE, G, t1 - t0, acc, 0);
        if (W->n_ext > 0) {
            K->tquant(Tx, W->Kx, W->Kx, W->n_ext, Qx, sx);
            K->qsum(Qx, sx, W->ext_tiles8 + (size_t)t0 * W->n_ext * CRVQ_QLUT_TILE, W->n_ext, t1 - t0, acc, 1);
        }
        for (int r = r0; r < r1; r++) y[r] = acc[r - r0] * W->scales[r];
        return;
    }
    for (int a = r0; a < r1; a += LUT_ROW_BLOCK) {
        const int nr = r1 - a < LUT_ROW_BLOCK ? r1 - a : LUT_ROW_BLOCK;
        if (W->codes8) K->gsum8(T0, W->K0, W->codes8 + (size_t)a * G, G, G, nr, y + a, 0);
        else K->gsum16(T0, W->K0, W->codes16 + (size_t)a * G, G, G, nr, y + a, 0);
        if (W->ext8) K->gsum8(Tx, W->Kx, W->ext8 + (size_t)a * W->n_ext, W->n_ext, W->n_ext, nr, y + a, 1);
        else if (W->ext16) K->gsum16(Tx, W->Kx, W->ext16 + (size_t)a * W->n_ext, W->n_ext, W->n_ext, nr, y + a, 1);
        for (int r = a; r < a + nr; r++) y[r] *= W->scales[r];
    }
}

// Every thread builds the whole tables itself and then sums over its own
// tiles of rows: one parallel region for all n tokens and no barrier inside
// it. A shared build would need a barrier per token, which on a loaded
// machine can wait a whole scheduler slice for a descheduled thread, and
// would make each thread read half its tables from the other core; the
// duplicated build is ~1/16 of the float lookups' work at the default
// d = 8, e = 8.
void crvq_vq_forward_lut(const crvq_vq_weights *W, const float *x, int n, float *y) {
    const crvq_vq_kernels *K = crvq_vq_kernels_active();
    const int m = W->m_out, n_tiles = (m + CRVQ_QLUT_TILE - 1) / CRVQ_QLUT_TILE;
    const int par = (size_t)m * (W->n_groups + W->n_ext) >= LUT_PAR_MIN_LOOKUPS;
    const int nth = par ? omp_get_max_threads() : 1;
    // (each thread's sums sized for all tiles: OpenMP may give fewer threads than nth)
    // only with VBMI's byte permutes: the reference's scalar sums are 2x
    // slower than the float tables' (7B-shaped decode, Zen 4, CRVQ_ISA=avx2)
    const int q = W->tiles8 && crvq_vq_qlut_enabled() && crvq_isa_vbmi();
    const lut_scratch s = lut_scratch_layout(W, q, n_tiles);
    char *buf = crvq_scratch(s.per * nth);
#pragma omp parallel num_threads(nth) if (par)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        const int t0 = (int)((int64_t)n_tiles * id / nt), t1 = (int)((int64_t)n_tiles * (id + 1) / nt);
        if (t1 > t0)
            for (int t = 0; t < n; t++)
                lut_token(K, W, q, x + (size_t)t * W->n_in, t0, t1, buf + s.per * id, &s, y + (size_t)t * m);
    }
}

// Tokens whose permuted inputs are held at once by the tiled path: bounds
// that copy (512 x 11008 floats = 22 MiB) at the price of expanding Ŵ again
// for every further 512 tokens, a small cost next to 512 tokens of sgemm.
#define TILED_TOKEN_CHUNK 512
#define TILED_DEFAULT_ROWS 64

// Each thread expands its own tiles of rows into its own buffer and
// multiplies them with a one-thread sgemm: OpenBLAS's pthreads pool and
// OpenMP's would otherwise take turns on the same cores (measured 50-100x
// slower on the shared 2-core machine than either alone).
void crvq_vq_forward_tiled(const crvq_vq_weights *W, const float *x, int n, float *y, int tile) {
    const crvq_vq_kernels *K = crvq_vq_kernels_active();
    const int m = W->m_out, n_in = W->n_in;
    if (tile <= 0) tile = TILED_DEFAULT_ROWS;
    if (tile > m) tile = m;
    const int chunk = n < TILED_TOKEN_CHUNK ? n : TILED_TOKEN_CHUNK, n_tiles = (m + tile - 1) / tile;
    const int nth = omp_get_max_threads();
    // scratch: permuted inputs (chunk, n_in) | one expanded tile (tile, n_in) per thread
    const size_t sz_x = W->perm ? crvq_scratch_align((size_t)chunk * n_in * 4) : 0;
    const size_t sz_w = crvq_scratch_align((size_t)tile * n_in * 4);
    char *buf = crvq_scratch(sz_x + sz_w * nth);
    float *xp = (float *)buf;
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(nth)
    {
        float *wt = (float *)(buf + sz_x + sz_w * omp_get_thread_num());
        for (int t0 = 0; t0 < n; t0 += chunk) {
            const int nt = n - t0 < chunk ? n - t0 : chunk;
            const float *xs = W->perm ? xp : x + (size_t)t0 * n_in;
            if (W->perm) {
#pragma omp for schedule(static)
                for (int t = 0; t < nt; t++)
                    permute_row(W->perm, x + (size_t)(t0 + t) * n_in, n_in, xp + (size_t)t * n_in);
            }
            // (the implicit barrier: every input row is permuted before use)
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < n_tiles; i++) {
                const int r0 = i * tile, nr = m - r0 < tile ? m - r0 : tile;
                K->dequant(W, r0, r0 + nr, wt);
                // y[t0.., r0..] (nt, nr) = xs (nt, n_in) · wt (nr, n_in)ᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nt, nr, n_in, 1.0f, xs, n_in, wt, n_in, 0.0f,
                            y + (size_t)t0 * m + r0, m);
            }
        }
    }
    openblas_set_num_threads(blas_threads);
}

// Below this many tokens the look-up tables win (docs/kernels.md, measured on
// the benchmark machine with bench_kernels).
#define VQ_LUT_MAX_TOKENS 32

void crvq_vq_forward(const crvq_vq_weights *W, const float *x, int n, float *y) {
    assert(n >= 1);
    if (n <= VQ_LUT_MAX_TOKENS) crvq_vq_forward_lut(W, x, n, y);
    else crvq_vq_forward_tiled(W, x, n, y, 0);
}

void crvq_vq_dequant_rows(const crvq_vq_weights *W, int r0, int r1, float *w) {
    assert(0 <= r0 && r0 <= r1 && r1 <= W->m_out);
    crvq_vq_kernels_active()->dequant(W, r0, r1, w);
}
