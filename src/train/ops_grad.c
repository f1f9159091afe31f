// ops_grad.c — backward passes of the block's small ops (RMSNorm, RoPE,
// SwiGLU) and of causal grouped-query attention (see block_grad.h).
#include "train/block_grad.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "util/threads.h"

// ------------------------------------------------------------- RMSNorm ---

// 1/rms of one row exactly as crvq_rmsnorm computes it (double sum, then
// rounded to float), so the backward differentiates the forward's own value.
static float inv_rms_row(const float *x, int dim, float eps) {
    double ss = 0.0;
    for (int i = 0; i < dim; i++) ss += (double)x[i] * x[i];
    return (float)(1.0 / sqrt(ss / dim + eps));
}

void crvq_rmsnorm_fwd(const float *x, const float *w, int n, int dim, float eps, float *out,
                      float *inv_rms) {
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < n; t++) {
        crvq_rmsnorm(out + (size_t)t * dim, x + (size_t)t * dim, w, dim, eps);
        inv_rms[t] = inv_rms_row(x + (size_t)t * dim, dim, eps);
    }
}

// y_i = w_i x_i r with r = (Σ_j x_j² / dim + eps)^(-1/2), dr/dx_j = -r³ x_j / dim:
//   dL/dx_j = r w_j dy_j - r³ x_j / dim · Σ_i w_i dy_i x_i
//   dL/dw_i = Σ_rows dy_i x_i r
void crvq_rmsnorm_backward(const float *x, const float *w, const float *inv_rms, const float *dy,
                           int n, int dim, float *dx, float *dw) {
#pragma omp parallel if ((size_t)n * dim >= CRVQ_PAR_MIN_WORK)
    {
        if (dx) {
#pragma omp for schedule(static) nowait
            for (int t = 0; t < n; t++) {
                const float *xt = x + (size_t)t * dim, *gt = dy + (size_t)t * dim;
                float *dxt = dx + (size_t)t * dim;
                double dot = 0.0;
                for (int i = 0; i < dim; i++) dot += (double)w[i] * gt[i] * xt[i];
                const double r = inv_rms[t];
                const float c = (float)(r * r * r * dot / dim);
                for (int i = 0; i < dim; i++) dxt[i] += inv_rms[t] * w[i] * gt[i] - c * xt[i];
            }
        }
        if (dw) {
            // by columns, rows summed in order: independent of the thread count
#pragma omp for schedule(static)
            for (int i = 0; i < dim; i++) {
                double s = 0.0;
                for (int t = 0; t < n; t++)
                    s += (double)dy[(size_t)t * dim + i] * x[(size_t)t * dim + i] * inv_rms[t];
                dw[i] += (float)s;
            }
        }
    }
}

// ---------------------------------------------------------------- RoPE ---

// Forward, per pair (a, b): y_a = x_a cos - x_b sin, y_b = x_a sin + x_b cos.
// Its transpose: dx_a = dy_a cos + dy_b sin, dx_b = -dy_a sin + dy_b cos.
void crvq_rope_backward(float *dx, int n_heads, int head_dim, const float *cos_t,
                        const float *sin_t, int interleaved) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = dx + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const int a = interleaved ? 2 * i : i;
            const int b = interleaved ? 2 * i + 1 : i + half;
            const float ga = v[a], gb = v[b];
            v[a] = ga * cos_t[i] + gb * sin_t[i];
            v[b] = -ga * sin_t[i] + gb * cos_t[i];
        }
    }
}

// -------------------------------------------------------------- SwiGLU ---

// a = silu(g) u with silu(g) = g σ(g), silu'(g) = σ(g) (1 + g (1 - σ(g))).
void crvq_swiglu_backward(const float *g, const float *u, const float *da, float *dg, float *du,
                          int n) {
    for (int i = 0; i < n; i++) {
        const float sig = 1.0f / (1.0f + expf(-g[i]));
        const float d = da[i];
        du[i] = d * g[i] * sig;
        dg[i] = d * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    }
}

// ----------------------------------------------------------- attention ---

// Attention works on a chunk of heads at a time: one sgemm per head for the
// scores, then a single OpenMP region over every row of the chunk, then the
// sgemms that use them. Few regions between BLAS calls keep the two thread
// pools from fighting (linear_grad.c). A chunk's scores are kept below
// ATT_FLOATS (64 MiB): all heads of a 512-token sequence, one head of 4096.
#define ATT_FLOATS ((size_t)1 << 24)

static int head_chunk(const crvq_config *c, int T) {
    size_t h = ATT_FLOATS / ((size_t)T * T);
    if (h < 1) h = 1;
    return h < (size_t)c->n_heads ? (int)h : c->n_heads;
}

size_t crvq_attn_scratch(const crvq_config *c, int T) { return 2 * (size_t)head_chunk(c, T) * T * T; }

// S_h = scale · Q_h K_hᵀ (T, T) for heads [h0, h0+nh) into S (nh, T, T).
static void attn_scores(const crvq_config *c, const float *q, const float *k, int T, int h0, int nh, float *S) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const int q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = h0; h < h0 + nh; h++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q + (size_t)h * hd, q_dim,
                    k + (size_t)(h / group) * hd, kv_dim, 0.0f, S + (size_t)(h - h0) * T * T, T);
}

// Causal softmax of one row i of scores (T): keys 0..i, the rest zeroed; the
// same row softmax as forward.c.
static void causal_softmax_row(float *row, int i, int T) {
    crvq_softmax(row, i + 1);
    memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof *row);
}

void crvq_attn_forward(const crvq_config *c, const float *q, const float *k, const float *v, int T,
                       float *out, float *scratch) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const int q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd, hc = head_chunk(c, T);
    for (int h0 = 0; h0 < c->n_heads; h0 += hc) {
        const int nh = c->n_heads - h0 < hc ? c->n_heads - h0 : hc;
        float *P = scratch; // (nh, T, T)
        attn_scores(c, q, k, T, h0, nh, P);
#pragma omp parallel for schedule(static) if ((size_t)nh * T * T >= CRVQ_PAR_MIN_WORK)
        for (int hr = 0; hr < nh * T; hr++) causal_softmax_row(P + (size_t)hr * T, hr % T, T);
        // O_h (T, hd) = P_h (T, T) V_h (T, hd)
        for (int h = h0; h < h0 + nh; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P + (size_t)(h - h0) * T * T, T,
                        v + (size_t)(h / group) * hd, kv_dim, 0.0f, out + (size_t)h * hd, q_dim);
    }
}

// With S = scale Q Kᵀ, P = softmax(S) per row, O = P V:
//   dP = dO Vᵀ, dV = Pᵀ dO, dS = P ∘ (dP - rowsum(P ∘ dP)),
//   dQ = scale dS K, dK = scale dSᵀ Q.
// Heads of one kv group add their dK, dV into the shared kv head.
void crvq_attn_backward(const crvq_config *c, const float *q, const float *k, const float *v,
                        const float *dout, int T, float *dq, float *dk, float *dv, float *scratch) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const int q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd, hc = head_chunk(c, T);
    const float scale = 1.0f / sqrtf((float)hd);
    float *P = scratch, *dS = scratch + (size_t)hc * T * T; // (hc, T, T) each
    memset(dk, 0, (size_t)T * kv_dim * sizeof *dk);
    memset(dv, 0, (size_t)T * kv_dim * sizeof *dv);
    for (int h0 = 0; h0 < c->n_heads; h0 += hc) {
        const int nh = c->n_heads - h0 < hc ? c->n_heads - h0 : hc;
        attn_scores(c, q, k, T, h0, nh, P);
        // dP_h (T, T) = dO_h (T, hd) V_hᵀ, into dS
        for (int h = h0; h < h0 + nh; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dout + (size_t)h * hd, q_dim,
                        v + (size_t)(h / group) * hd, kv_dim, 0.0f, dS + (size_t)(h - h0) * T * T, T);
#pragma omp parallel for schedule(static) if ((size_t)nh * T * T >= CRVQ_PAR_MIN_WORK)
        for (int hr = 0; hr < nh * T; hr++) {
            const int i = hr % T;
            float *p = P + (size_t)hr * T, *g = dS + (size_t)hr * T;
            causal_softmax_row(p, i, T);
            double dot = 0.0;
            for (int j = 0; j <= i; j++) dot += (double)p[j] * g[j];
            for (int j = 0; j <= i; j++) g[j] = p[j] * (g[j] - (float)dot);
            memset(g + i + 1, 0, (size_t)(T - i - 1) * sizeof *g);
        }
        for (int h = h0; h < h0 + nh; h++) {
            const size_t qo = (size_t)h * hd, ko = (size_t)(h / group) * hd, so = (size_t)(h - h0) * T * T;
            // dV_kv (T, hd) += P_hᵀ dO_h;  dQ_h (T, hd) = scale dS_h K_kv;  dK_kv (T, hd) += scale dS_hᵀ Q_h
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, P + so, T, dout + qo, q_dim, 1.0f,
                        dv + ko, kv_dim);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dS + so, T, k + ko, kv_dim, 0.0f,
                        dq + qo, q_dim);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dS + so, T, q + qo, q_dim, 1.0f,
                        dk + ko, kv_dim);
        }
    }
}
