// linear_grad.c — backward of y = x Ŵᵀ for dense, VQ / CRVQ and scalar
// layers (see block_grad.h).
//
// Compressed layers are expanded a tile of rows at a time (the inference
// kernels' own dequantization), so memory stays bounded whatever the layer
// size. For a VQ layer each tile also gets its slice of dŴ = dyᵀ x by sgemm,
// which is then reduced by the frozen codes into codebook and scale
// gradients.
#include "train/block_grad.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "kernels/scratch.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "util/threads.h"

// Floats of one expanded tile (16 MiB): large enough that the sgemms of a
// tile run at full speed, small enough to stay a minor cost next to the
// activations of a mini-batch.
#define TILE_FLOATS ((size_t)1 << 22)

// Codebook gradients are summed in this many fixed row chunks, each with its
// own accumulator, then over chunks in order: the result does not depend on
// the number of threads (a per-thread split would).
#define GRAD_CHUNKS 32

static int tile_rows(const crvq_linear *L) {
    size_t r = TILE_FLOATS / (size_t)L->n_in;
    if (r < 1) r = 1;
    return r < (size_t)L->n_out ? (int)r : L->n_out;
}

// Floats of all codebooks of W together: Σ_k 2^e[k] · d.
static size_t cb_floats(const crvq_vq_weights *W) {
    size_t n = 0;
    for (int k = 0; k < W->M; k++) n += ((size_t)1 << W->e[k]) * W->d;
    return n;
}

// Scratch layout, in floats (each part cache-line aligned):
//   expanded tile (R, n_in)                                 compressed kinds
//   dŴ tile (R, n_in)                                       VQ
//   permuted x (n, n_in), permuted dx (n, n_in)             VQ with a permutation
//   GRAD_CHUNKS codebook accumulators (double)              VQ
static size_t align_f(size_t floats) { return crvq_scratch_align(floats * sizeof(float)) / sizeof(float); }

size_t crvq_linear_backward_scratch(const crvq_linear *L, int n) {
    if (L->kind == CRVQ_LINEAR_DENSE) return 0;
    const size_t tile = align_f((size_t)tile_rows(L) * L->n_in);
    if (L->kind == CRVQ_LINEAR_SCALAR) return tile;
    const crvq_vq_weights *W = L->vq;
    size_t s = 2 * tile + align_f(2 * GRAD_CHUNKS * cb_floats(W));
    if (W->perm) s += 2 * align_f((size_t)n * L->n_in);
    return s;
}

static inline unsigned code_at(const uint8_t *c8, const uint16_t *c16, size_t i) {
    return c8 ? c8[i] : c16[i];
}

// Expand rows [r0, r0+nr) of a compressed layer into w (nr, n_in), rows split
// evenly over the threads (the dequantization kernels are thread-safe).
static void expand_rows(const crvq_linear *L, int r0, int nr, float *w) {
#pragma omp parallel if ((size_t)nr * L->n_in >= CRVQ_PAR_MIN_WORK)
    {
        const int nth = omp_get_num_threads(), id = omp_get_thread_num();
        const int a = nr * id / nth, b = nr * (id + 1) / nth;
        if (b > a) {
            float *dst = w + (size_t)a * L->n_in;
            if (L->kind == CRVQ_LINEAR_VQ) crvq_vq_dequant_rows(L->vq, r0 + a, r0 + b, dst);
            else crvq_scalar_dequant_rows(L->sq, r0 + a, r0 + b, dst);
        }
    }
}

// Rows [r0, r0+nr) of dŴ (permuted order) into the chunk accumulators acc
// (GRAD_CHUNKS, Σ_k K_k d) and the scale gradients.
static void reduce_by_codes(const crvq_vq_weights *W, int r0, int nr, const float *dWt, double *acc,
                            const size_t *cb_off, size_t acc_stride, float *g_scales) {
    const int d = W->d, G = W->n_groups, E = W->M - 1, m = W->m_out;
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
                const float *v = dw + (size_t)g * d;
                const unsigned c0 = code_at(W->codes8, W->codes16, (size_t)r * G + g);
                const float *w0 = W->cb[0] + (size_t)c0 * d;
                double *a0 = ac + cb_off[0] + (size_t)c0 * d;
                for (int j = 0; j < d; j++) {
                    a0[j] += s * v[j];
                    ds += (double)v[j] * w0[j];
                }
                if (g >= W->n_crit) continue;
                for (int k = 1; k <= E; k++) {
                    const unsigned ck = code_at(W->ext8, W->ext16, ((size_t)r * W->n_crit + g) * E + k - 1);
                    const float *wk = W->cb[k] + (size_t)ck * d;
                    double *ak = ac + cb_off[k] + (size_t)ck * d;
                    for (int j = 0; j < d; j++) {
                        ak[j] += s * v[j];
                        ds += (double)v[j] * wk[j];
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
    const int is_vq = L->kind == CRVQ_LINEAR_VQ;
    const crvq_vq_weights *W = is_vq ? L->vq : NULL;
    const int32_t *perm = is_vq ? W->perm : NULL;
    assert(!g || is_vq);

    float *Wt = scratch, *p = scratch + align_f((size_t)R * n_in);
    float *dWt = NULL, *xp = NULL, *dxp = NULL;
    double *acc = NULL;
    size_t cb_off[CRVQ_MAX_CODEBOOKS] = {0}, acc_stride = 0;
    if (is_vq) {
        dWt = p;
        p += align_f((size_t)R * n_in);
        acc_stride = cb_floats(W);
        acc = (double *)p;
        p += align_f(2 * GRAD_CHUNKS * acc_stride);
        if (perm) {
            xp = p;
            dxp = p + align_f((size_t)n * n_in);
        }
        for (int k = 1; k < W->M; k++) cb_off[k] = cb_off[k - 1] + ((size_t)1 << W->e[k - 1]) * W->d;
    }
    // the product in permuted column order, scattered back to dx at the end
    float *dxw = perm ? dxp : dx;
    const float *xw = x;
    if (g) {
        memset(acc, 0, GRAD_CHUNKS * acc_stride * sizeof *acc);
        if (perm) {
#pragma omp parallel for schedule(static) if ((size_t)n * n_in >= CRVQ_PAR_MIN_WORK)
            for (int t = 0; t < n; t++)
                for (int j = 0; j < n_in; j++) xp[(size_t)t * n_in + j] = x[(size_t)t * n_in + perm[j]];
            xw = xp;
        }
    }

    for (int r0 = 0; r0 < m; r0 += R) {
        const int nr = m - r0 < R ? m - r0 : R;
        expand_rows(L, r0, nr, Wt);
        // dx (n, n_in) (+)= dy[:, r0:r0+nr] (n, nr) · Ŵ tile (nr, n_in)
        const float beta = r0 > 0 || (accumulate && !perm) ? 1.0f : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n_in, nr, 1.0f, dy + r0, m, Wt, n_in,
                    beta, dxw, n_in);
        if (g) {
            // dŴ tile (nr, n_in) = dy[:, r0:r0+nr]ᵀ · x
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nr, n_in, n, 1.0f, dy + r0, m, xw, n_in,
                        0.0f, dWt, n_in);
            reduce_by_codes(W, r0, nr, dWt, acc, cb_off, acc_stride, g->scales);
        }
    }

    if (perm) {
        // permuted column j is original column perm[j]
#pragma omp parallel for schedule(static) if ((size_t)n * n_in >= CRVQ_PAR_MIN_WORK)
        for (int t = 0; t < n; t++) {
            float *dt = dx + (size_t)t * n_in;
            const float *st = dxp + (size_t)t * n_in;
            if (accumulate)
                for (int j = 0; j < n_in; j++) dt[perm[j]] += st[j];
            else
                for (int j = 0; j < n_in; j++) dt[perm[j]] = st[j];
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

void crvq_linear_backward(const crvq_linear *L, const float *x, const float *dy, int n, float *dx,
                          int accumulate, const crvq_linear_grad *g, float *scratch) {
    assert(n >= 1 && dx);
    switch (L->kind) {
    case CRVQ_LINEAR_DENSE:
        assert(L->w && !g);
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
