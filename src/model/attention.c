// attention.c — causal grouped-query softmax attention (see attention.h):
// serving over the KV cache, and training over whole sequences with its
// backward beside it.
#include "model/attention.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "util/threads.h"

// ----------------------------------------------- serving, over the cache ---

// Attention of one token (n = 1) at position pos over the cache 0..pos:
// explicit loops, one head per thread (row h of scores, stride max_seq).
static void attn_one(const crvq_config *c, const float *q, const float *kc, const float *vc, int pos, int max_seq,
                     float *scores, float *att) {
    int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    size_t kv_dim = (size_t)c->n_kv_heads * hd;
    float scale = 1.0f / sqrtf((float)hd);
    size_t work = (size_t)c->n_heads * (pos + 1) * hd;
#pragma omp parallel for schedule(static) if (work >= CRVQ_PAR_MIN_WORK)
    for (int h = 0; h < c->n_heads; h++) {
        const float *qh = q + (size_t)h * hd;           // (hd)
        const float *kh = kc + (size_t)(h / group) * hd; // rows t: kh + t*kv_dim
        const float *vh = vc + (size_t)(h / group) * hd;
        float *sc = scores + (size_t)h * max_seq;        // (pos+1)
        for (int t = 0; t <= pos; t++) sc[t] = crvq_dot(qh, kh + t * kv_dim, hd) * scale;
        crvq_softmax(sc, pos + 1);
        float *out = att + (size_t)h * hd; // (hd)
        memset(out, 0, (size_t)hd * sizeof *out);
        for (int t = 0; t <= pos; t++) {
            const float *v = vh + t * kv_dim;
            float a = sc[t];
            for (int i = 0; i < hd; i++) out[i] += a * v[i];
        }
    }
}

void crvq_attn_softmax_tile(const crvq_config *c, float *scores, int T, int L, int first) {
#pragma omp parallel for schedule(static) if ((size_t)c->n_heads * T * L >= CRVQ_PAR_MIN_WORK)
    for (int hr = 0; hr < c->n_heads * T; hr++) {
        int visible = first + hr % T + 1; // row r sees keys 0..first+r
        float *row = scores + (size_t)hr * L;
        crvq_softmax(row, visible);
        memset(row + visible, 0, (size_t)(L - visible) * sizeof *row);
    }
}

// Causal attention of n > 1 tokens at positions pos..pos+n-1 over the cache
// 0..pos+n-1, one tile of query rows at a time: S_h = scale * Q_h K_hᵀ for
// every head (sgemm), masked softmax of all rows of all heads (one parallel
// loop), then O_h = S_h V_h (sgemm). The masked upper part of each S_h is
// computed and zeroed: wasted work, but sgemm on the rectangle is far faster
// than exact causal loops.
static void attn_batch(const crvq_config *c, const float *q, const float *kc, const float *vc, int n, int pos,
                       int q_tile, float *scores, float *att) {
    int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    int kv_dim = c->n_kv_heads * hd, q_dim = c->n_heads * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i0 = 0; i0 < n; i0 += q_tile) {
        int T = n - i0 < q_tile ? n - i0 : q_tile; // query rows in this tile
        int L = pos + i0 + T;                      // keys visible to its last row
        for (int h = 0; h < c->n_heads; h++) {
            const float *qh = q + (size_t)i0 * q_dim + (size_t)h * hd; // (T, hd), stride q_dim
            const float *kh = kc + (size_t)(h / group) * hd;            // (L, hd), stride kv_dim
            float *S = scores + (size_t)h * T * L;                      // (T, L)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, L, hd, scale, qh, q_dim, kh,
                        kv_dim, 0.0f, S, L);
        }
        crvq_attn_softmax_tile(c, scores, T, L, pos + i0);
        for (int h = 0; h < c->n_heads; h++) {
            const float *S = scores + (size_t)h * T * L;           // (T, L)
            const float *vh = vc + (size_t)(h / group) * hd;       // (L, hd), stride kv_dim
            float *oh = att + (size_t)i0 * q_dim + (size_t)h * hd; // (T, hd), stride q_dim
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, L, 1.0f, S, L, vh,
                        kv_dim, 0.0f, oh, q_dim);
        }
    }
}

void crvq_attn_cached(const crvq_config *c, const float *q, const float *kc, const float *vc, int n, int pos,
                      int q_tile, int max_seq, float *scores, float *out) {
    if (n == 1)
        attn_one(c, q, kc, vc, pos, max_seq, scores, out);
    else
        attn_batch(c, q, kc, vc, n, pos, q_tile, scores, out);
}

// ------------------------------------------ training, whole sequences ---

// Attention works on a chunk of heads at a time: one sgemm per head for the
// scores, then a single OpenMP region over every row of the chunk, then the
// sgemms that use them. Few regions between BLAS calls keep the two thread
// pools from fighting (model/linear.c). A chunk's scores are kept below
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
// same row softmax as the serving attention's.
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
