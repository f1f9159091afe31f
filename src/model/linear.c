// linear.c — y = x Wᵀ (+ b) for each kind of linear layer: the serving
// forward, and the training forward with its backward beside it (see
// linear.h).
#include "model/linear.h"
#include "model/linear_kind.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/half_rows.h"
#include "kernels/scratch.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/bits.h"
#include "util/error.h"
#include "util/threads.h"

// Floats of one expanded tile (16 MiB).
#define TILE_FLOATS ((size_t)1 << 22)

static int tile_rows(const crvq_linear *L) {
    size_t r = TILE_FLOATS / (size_t)L->n_in;
    if (r < 1) r = 1;
    return r < (size_t)L->n_out ? (int)r : L->n_out;
}

// One token through a 16-bit layer: the rows split evenly over the threads,
// each widening its rows in registers (kernels/half_rows.h).
static void half_token(const crvq_linear *L, const float *x, float *y) {
    const crvq_half_matrix H = {L->w16, L->w16_dtype, L->n_in};
    const int m = L->n_out;
#pragma omp parallel if ((size_t)m * L->n_in >= CRVQ_PAR_MIN_WORK)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        const int r0 = (int)((int64_t)m * id / nt), r1 = (int)((int64_t)m * (id + 1) / nt);
        if (r1 > r0) crvq_half_matvec(&H, x, r0, r1, y + r0);
    }
}

// A batch through a 16-bit layer: row tiles of up to TILE_FLOATS widened,
// each multiplied by one multi-threaded sgemm as the float32 layer is. A
// pg-dev-sized matrix (the tied head too) is one tile, so its products are
// the float32 copy's bit for bit.
static void half_batch(const crvq_linear *L, const float *x, int n, float *y) {
    const int R = tile_rows(L);
    float *wt = crvq_scratch((size_t)R * L->n_in * sizeof(float));
    for (int r0 = 0; r0 < L->n_out; r0 += R) {
        const int nr = L->n_out - r0 < R ? L->n_out - r0 : R;
        crvq_linear_dense_rows(L, r0, r0 + nr, wt);
        // y[:, r0..] (n, nr) = x (n, n_in) · wt (nr, n_in)ᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, L->n_in, 1.0f, x, L->n_in, wt, L->n_in, 0.0f,
                    y + r0, L->n_out);
    }
}

static void linear_dense(const crvq_linear *L, const float *x, int n, float *y) {
    if (L->w16 && n == 1) {
        half_token(L, x, y);
    } else if (L->w16) {
        half_batch(L, x, n, y);
    } else if (n == 1) {
        // one token (decode): matrix-vector, y (n_out) = W (n_out, n_in) x (n_in)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, L->n_out, L->n_in, 1.0f, L->w, L->n_in, x, 1,
                    0.0f, y, 1);
    } else {
        // a batch (prefill): y (n, n_out) = x (n, n_in) Wᵀ (n_in, n_out)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L->n_out, L->n_in, 1.0f, x,
                    L->n_in, L->w, L->n_in, 0.0f, y, L->n_out);
    }
}

void crvq_linear_forward(const crvq_linear *L, const float *x, int n, float *y) {
    assert(n >= 1);
    const crvq_linear_traits *t = crvq_linear_traits_of(L->kind);
    assert(t->valid(L));
    t->forward(L, x, n, y);
    if (L->bias)
        for (int r = 0; r < n; r++) {
            float *yr = y + (size_t)r * L->n_out;
            for (int o = 0; o < L->n_out; o++) yr[o] += L->bias[o];
        }
}

void crvq_linear_dense_rows(const crvq_linear *L, int r0, int r1, float *dst) {
    assert(L->kind == CRVQ_LINEAR_DENSE && 0 <= r0 && r0 <= r1 && r1 <= L->n_out);
    const size_t off = (size_t)r0 * L->n_in, n = (size_t)(r1 - r0) * L->n_in;
    if (L->w16) crvq_half_to_f32(L->w16 + off, L->w16_dtype, n, dst);
    else memcpy(dst, L->w + off, n * sizeof(float));
}

crvq_status crvq_linear_dense_f32(const crvq_linear *L, const float **w, float **owned) {
    assert(L->kind == CRVQ_LINEAR_DENSE);
    *owned = NULL;
    if (!L->w16) {
        *w = L->w;
        return CRVQ_OK;
    }
    float *buf = malloc((size_t)L->n_out * L->n_in * sizeof(float));
    if (!buf)
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory widening a %d x %d layer to float32", L->n_out, L->n_in);
    crvq_linear_dense_rows(L, 0, L->n_out, buf);
    *w = *owned = buf;
    return CRVQ_OK;
}

// ------------------------------------------------------------ training ---

// For training, compressed layers are expanded into Ŵ in original column
// order, a tile of rows at a time (the inference kernels' own
// dequantization, then the permutation undone), and multiplied with one
// sgemm per tile. A tile is
// 16 MiB, so a pg-dev-sized projection is one tile: one OpenMP region and
// one sgemm per product. That matters: after every OpenMP region OpenMP's
// workers spin while the next multi-threaded BLAS call wants the cores; the
// inference kernels' 64-row tiles switch 8-24 times per product, and a
// pg-dev training step took 3.0-4.4 s with them against 1.4-1.9 s this way
// on the shared 2-core machine (docs/finetune.md). For a VQ layer each tile
// also gets its slice of dŴ = dyᵀ x by sgemm, which is then reduced by the
// frozen codes into codebook and scale gradients.

// Codebook gradients are summed in this many fixed row chunks, each with its
// own accumulator, then over chunks in order: the result does not depend on
// the number of threads (a per-thread split would).
#define GRAD_CHUNKS 32


// Floats of all codebooks of W together: Σ_k 2^e[k] · d.
static size_t cb_floats(const crvq_vq_weights *W) {
    size_t n = 0;
    for (int k = 0; k < W->M; k++) n += ((size_t)1 << W->e[k]) * W->d;
    return n;
}

static size_t align_f(size_t floats) { return crvq_scratch_align(floats * sizeof(float)) / sizeof(float); }

// Scratch layout, in floats (each part cache-line aligned):
//   Ŵ tile (R, n_in), original column order           compressed kinds
//   second tile (R, n_in): permuted rows, then dŴ      VQ
//   GRAD_CHUNKS codebook accumulators (double)         VQ
size_t crvq_linear_train_scratch(const crvq_linear *L) {
    if (L->kind == CRVQ_LINEAR_DENSE) return 0;
    const size_t tile = align_f((size_t)tile_rows(L) * L->n_in);
    if (L->kind == CRVQ_LINEAR_SCALAR) return tile;
    return 2 * tile + align_f(2 * GRAD_CHUNKS * cb_floats(L->vq));
}

static inline unsigned code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

// Entry j of a vector of dŴ: dg points at the vector in permuted order, or
// with a permutation pg (its d entries of perm) dw is the row in original order.
static inline float vec_entry(const float *dw, const int32_t *pg, const float *dg, int j) {
    return pg ? dw[pg[j]] : dg[j];
}

// Rows [r0, r0+nr) of Ŵ of a compressed layer into w (nr, n_in), original
// column order; tmp (nr, n_in) holds permuted rows of a permuted VQ layer.
// Rows are split evenly over the threads, each expanding and un-permuting
// its own (the dequantization kernels are thread-safe).
static void expand_rows(const crvq_linear *L, int r0, int nr, float *w, float *tmp) {
    const int n_in = L->n_in;
    const crvq_linear_traits *t = crvq_linear_traits_of(L->kind);
    const int32_t *perm = t->perm(L);
#pragma omp parallel if ((size_t)nr * n_in >= CRVQ_PAR_MIN_WORK)
    {
        const int nth = omp_get_num_threads(), id = omp_get_thread_num();
        const int a = nr * id / nth, b = nr * (id + 1) / nth;
        if (b > a) {
            float *dst = (perm ? tmp : w) + (size_t)a * n_in;
            t->dequant_rows(L, r0 + a, r0 + b, dst);
            // permuted column j is original column perm[j]
            if (perm)
                for (int i = a; i < b; i++)
                    for (int j = 0; j < n_in; j++) w[(size_t)i * n_in + perm[j]] = tmp[(size_t)i * n_in + j];
        }
    }
}

void crvq_linear_rows(const crvq_linear *L, int r0, int r1, float *dst, float *tmp) {
    if (L->kind == CRVQ_LINEAR_DENSE) crvq_linear_dense_rows(L, r0, r1, dst);
    else expand_rows(L, r0, r1 - r0, dst, tmp);
}

void crvq_linear_forward_train(const crvq_linear *L, const float *x, int n, float *y, float *scratch) {
    assert(n >= 1);
    if (L->kind == CRVQ_LINEAR_DENSE) {
        crvq_linear_forward(L, x, n, y);
        return;
    }
    const int m = L->n_out, n_in = L->n_in, R = tile_rows(L);
    float *Wt = scratch, *tmp = scratch + align_f((size_t)R * n_in);
    for (int r0 = 0; r0 < m; r0 += R) {
        const int nr = m - r0 < R ? m - r0 : R;
        expand_rows(L, r0, nr, Wt, tmp);
        // y[:, r0:r0+nr] (n, nr) = x (n, n_in) · Ŵ tile (nr, n_in)ᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, n_in, 1.0f, x, n_in, Wt, n_in, 0.0f, y + r0, m);
    }
    if (L->bias)
        for (int t = 0; t < n; t++)
            for (int o = 0; o < m; o++) y[(size_t)t * m + o] += L->bias[o];
}

// Rows [r0, r0+nr) of dŴ (original column order) into the chunk
// accumulators acc (GRAD_CHUNKS, Σ_k K_k d) and the scale gradients.
static void reduce_by_codes(const crvq_vq_weights *W, int r0, int nr, const float *dWt, double *acc,
                            const size_t *cb_off, size_t acc_stride, float *g_scales) {
    const int d = W->d, G = W->n_groups, E = W->M - 1, m = W->m_out;
    const int32_t *perm = W->perm;
#pragma omp parallel for schedule(static) if ((size_t)nr * W->n_in >= CRVQ_PAR_MIN_WORK)
    for (int ch = 0; ch < GRAD_CHUNKS; ch++) {
        const int lo = (int)((int64_t)m * ch / GRAD_CHUNKS), hi = (int)((int64_t)m * (ch + 1) / GRAD_CHUNKS);
        const int a = lo > r0 ? lo : r0, b = hi < r0 + nr ? hi : r0 + nr;
        double *ac = acc + (size_t)ch * acc_stride;
        for (int r = a; r < b; r++) {
            const float *dw = dWt + (size_t)(r - r0) * W->n_in;
            const double s = W->scales[r];
            double ds = 0.0;
            for (int g = 0; g < G; g++) {
                // permuted column g·d + j is original column perm[g·d + j]
                const int32_t *pg = perm ? perm + (size_t)g * d : NULL;
                const float *dg = dw + (size_t)g * d;
                const unsigned c0 = code_at(W->codes8, W->codes16, (size_t)r * G + g);
                const float *w0 = W->cb[0] + (size_t)c0 * d;
                double *a0 = ac + cb_off[0] + (size_t)c0 * d;
                for (int j = 0; j < d; j++) {
                    const float v = vec_entry(dw, pg, dg, j);
                    a0[j] += s * v;
                    ds += (double)v * w0[j];
                }
                if (g >= W->n_crit) continue;
                for (int k = 1; k <= E; k++) {
                    const unsigned ck = code_at(W->ext8, W->ext16, ((size_t)r * W->n_crit + g) * E + k - 1);
                    const float *wk = W->cb[k] + (size_t)ck * d;
                    double *ak = ac + cb_off[k] + (size_t)ck * d;
                    for (int j = 0; j < d; j++) {
                        const float v = vec_entry(dw, pg, dg, j);
                        ak[j] += s * v;
                        ds += (double)v * wk[j];
                    }
                }
            }
            g_scales[r] += (float)ds;
        }
    }
}

static void backward_compressed(const crvq_linear *L, const float *x, const float *dy, int n,
                                float *dx, int accumulate, const crvq_linear_grad *g, float *scratch) {
    const int m = L->n_out, n_in = L->n_in, R = tile_rows(L);
    const crvq_vq_weights *W = L->kind == CRVQ_LINEAR_VQ ? L->vq : NULL;
    float *Wt = scratch, *tmp = scratch + align_f((size_t)R * n_in); // tmp: VQ only
    double *acc = W ? (double *)(tmp + align_f((size_t)R * n_in)) : NULL;
    size_t cb_off[CRVQ_MAX_CODEBOOKS] = {0}, acc_stride = 0;
    if (g) {
        acc_stride = cb_floats(W);
        for (int k = 1; k < W->M; k++) cb_off[k] = cb_off[k - 1] + ((size_t)1 << W->e[k - 1]) * W->d;
        memset(acc, 0, GRAD_CHUNKS * acc_stride * sizeof *acc);
    }
    for (int r0 = 0; r0 < m; r0 += R) {
        const int nr = m - r0 < R ? m - r0 : R;
        expand_rows(L, r0, nr, Wt, tmp);
        // dx (n, n_in) (+)= dy[:, r0:r0+nr] (n, nr) · Ŵ tile (nr, n_in)
        const float beta = r0 > 0 || accumulate ? 1.0f : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n_in, nr, 1.0f, dy + r0, m, Wt, n_in, beta, dx,
                    n_in);
        if (g) {
            // dŴ tile (nr, n_in) = dy[:, r0:r0+nr]ᵀ · x, into the second tile
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nr, n_in, n, 1.0f, dy + r0, m, x, n_in, 0.0f, tmp,
                        n_in);
            reduce_by_codes(W, r0, nr, tmp, acc, cb_off, acc_stride, g->scales);
        }
    }
    if (g) {
        for (int k = 0; k < W->M; k++) {
            const int nk = (1 << W->e[k]) * W->d;
            const double *ak = acc + cb_off[k];
#pragma omp parallel for schedule(static) if ((size_t)nk * GRAD_CHUNKS >= CRVQ_PAR_MIN_WORK)
            for (int i = 0; i < nk; i++) {
                double s = 0.0;
                for (int ch = 0; ch < GRAD_CHUNKS; ch++) s += ak[(size_t)ch * acc_stride + i];
                g->cb[k][i] += (float)s;
            }
        }
    }
}

// dx (n, n_in) (+)= dy (n, n_out) · W for a 16-bit dense layer, one widened
// tile of W's rows at a time: dx += dy[:, r0..r1) · W[r0..r1, :].
static void backward_half(const crvq_linear *L, const float *dy, int n, float *dx, int accumulate) {
    const int R = tile_rows(L);
    float *wt = crvq_scratch((size_t)R * L->n_in * sizeof(float));
    for (int r0 = 0; r0 < L->n_out; r0 += R) {
        const int nr = L->n_out - r0 < R ? L->n_out - r0 : R;
        crvq_linear_dense_rows(L, r0, r0 + nr, wt);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, L->n_in, nr, 1.0f, dy + r0, L->n_out, wt, L->n_in,
                    accumulate || r0 > 0 ? 1.0f : 0.0f, dx, L->n_in);
    }
}

void crvq_linear_backward(const crvq_linear *L, const float *x, const float *dy, int n, float *dx,
                          int accumulate, const crvq_linear_grad *g, float *scratch) {
    assert(n >= 1 && dx);
    switch (L->kind) {
    case CRVQ_LINEAR_DENSE:
        assert((L->w || L->w16) && !g);
        if (L->w16) {
            backward_half(L, dy, n, dx, accumulate);
            break;
        }
        // dx (n, n_in) (+)= dy (n, n_out) · W (n_out, n_in)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, L->n_in, L->n_out, 1.0f, dy, L->n_out,
                    L->w, L->n_in, accumulate ? 1.0f : 0.0f, dx, L->n_in);
        break;
    case CRVQ_LINEAR_VQ:
        assert(L->vq && L->vq->m_out == L->n_out && L->vq->n_in == L->n_in);
        backward_compressed(L, x, dy, n, dx, accumulate, g, scratch);
        break;
    case CRVQ_LINEAR_SCALAR:
        assert(L->sq && L->sq->m_out == L->n_out && L->sq->n_in == L->n_in && !g);
        backward_compressed(L, x, dy, n, dx, accumulate, NULL, scratch);
        break;
    default:
        assert(!"unknown linear kind");
    }
}

// ---------------------------------------------------- the kinds' rows ---

static int dense_valid(const crvq_linear *L) { return L->w || L->w16; }
static int vq_valid(const crvq_linear *L) { return L->vq && L->vq->m_out == L->n_out && L->vq->n_in == L->n_in; }
static int scalar_valid(const crvq_linear *L) { return L->sq && L->sq->m_out == L->n_out && L->sq->n_in == L->n_in; }

static void vq_forward(const crvq_linear *L, const float *x, int n, float *y) { crvq_vq_forward(L->vq, x, n, y); }
static void scalar_forward(const crvq_linear *L, const float *x, int n, float *y) {
    crvq_scalar_forward(L->sq, x, n, y);
}

static void vq_rows(const crvq_linear *L, int r0, int r1, float *w) { crvq_vq_dequant_rows(L->vq, r0, r1, w); }
static void scalar_rows(const crvq_linear *L, int r0, int r1, float *w) {
    crvq_scalar_dequant_rows(L->sq, r0, r1, w);
}

static const int32_t *no_perm(const crvq_linear *L) { (void)L; return NULL; }
static const int32_t *vq_perm(const crvq_linear *L) { return L->vq->perm; }

static double dense_bits(const crvq_linear *L) { (void)L; return 16.0; }
static double vq_bits(const crvq_linear *L) { return crvq_vq_bits(&L->vq->layer); }
static double scalar_bits(const crvq_linear *L) { return crvq_scalar_bits(&L->sq->layer); }

// bf16 / fp16 weights stay 16-bit at run time (widened in registers), others float32
static double dense_bytes(const crvq_linear *L) { return (L->w16 ? 2.0 : 4.0) * L->n_out * L->n_in; }
static double vq_bytes(const crvq_linear *L) { return (double)crvq_vq_weights_bytes(L->vq); }
static double scalar_bytes(const crvq_linear *L) { return (double)crvq_scalar_weights_bytes(L->sq); }

static const crvq_linear_traits KINDS[] = {
    [CRVQ_LINEAR_DENSE] = {"dense", dense_valid, linear_dense, crvq_linear_dense_rows, no_perm, dense_bits,
                           dense_bytes},
    [CRVQ_LINEAR_VQ] = {"vq", vq_valid, vq_forward, vq_rows, vq_perm, vq_bits, vq_bytes},
    [CRVQ_LINEAR_SCALAR] = {"scalar", scalar_valid, scalar_forward, scalar_rows, no_perm, scalar_bits,
                            scalar_bytes},
};

const crvq_linear_traits *crvq_linear_traits_of(crvq_linear_kind kind) {
    assert((unsigned)kind < sizeof KINDS / sizeof KINDS[0]);
    return &KINDS[kind];
}

double crvq_linear_bits(const crvq_linear *lin) {
    return crvq_linear_traits_of(lin->kind)->bits(lin);
}
