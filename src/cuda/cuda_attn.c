// cuda_attn.c — causal attention forward and backward on the GPU (see cuda_attn.h).
//
// The scores of one sequence are (T, T), but a query at position r sees only
// keys 0..r: the products run over chunks of CHUNK positions and skip the
// blocks above the diagonal. Query chunk i (rows [r0, r0 + nr)) takes keys
// [0, r0 + nr); key chunk j (columns [c0, c0 + nc)) is seen by rows [c0, T).
// At T = 1024 that is 10 of 16 blocks, 62.5% of the full products' work; the
// softmax kernels zero a row's invisible keys only up to the end of its chunk,
// the last column the products read there.
#include "cuda/cuda_attn.h"

#include <math.h>

#include "cuda/cu_kernels.h"

enum { CHUNK = 256 };

typedef struct {
    int hd, group, nkv, qd, kvd;
    long long TT, gq, gs; // T·T; a head group's strides in q and in the scores
    float scale;
} attn_dims;

// Positions in the chunk that starts at p0 of a T-token sequence.
static int chunk_len(int T, int p0) { return T - p0 < CHUNK ? T - p0 : CHUNK; }

static attn_dims dims_of(const crvq_config *c, int T) {
    attn_dims d = {.hd = c->head_dim, .group = c->n_heads / c->n_kv_heads, .nkv = c->n_kv_heads};
    d.qd = c->n_heads * d.hd, d.kvd = d.nkv * d.hd;
    d.TT = (long long)T * T, d.gq = (long long)d.group * d.hd, d.gs = d.group * d.TT;
    d.scale = 1.0f / sqrtf((float)d.hd);
    return d;
}

// P (n_heads, T, T) = causal softmax of scale·Q_h K_kvᵀ for one sequence.
static crvq_status probabilities(crvq_cu *cu, const crvq_config *c, int T, const float *q, const float *k,
                                 float *P) {
    const attn_dims d = dims_of(c, T);
    crvq_status st = CRVQ_OK;
    for (int r0 = 0; r0 < T && st == CRVQ_OK; r0 += CHUNK) {
        const int nr = chunk_len(T, r0);
        for (int g = 0; g < d.group && st == CRVQ_OK; g++) // S_h[rows] (nr, r0+nr) = scale Q_h[rows] K_kv[:r0+nr]ᵀ
            st = crvq_cu_sgemm_strided(cu, 0, 1, nr, r0 + nr, d.hd, d.scale, q + (size_t)r0 * d.qd + g * d.hd, d.qd,
                                       d.gq, k, d.kvd, d.hd, 0.0f, P + g * d.TT + (size_t)r0 * T, T, d.gs, d.nkv);
    }
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_causal_softmax(P, c->n_heads * T, T, CHUNK), "attention softmax");
    return st;
}

crvq_status crvq_cu_attn_forward(crvq_cu *cu, const crvq_config *c, int T, int n_seq, const float *q,
                                 const float *k, const float *v, float *S, float *out) {
    const attn_dims d = dims_of(c, T);
    crvq_status st = CRVQ_OK;
    for (int s = 0; s < n_seq && st == CRVQ_OK; s++) {
        const size_t t0 = (size_t)s * T;
        const float *qs = q + t0 * d.qd, *ks = k + t0 * d.kvd, *vs = v + t0 * d.kvd;
        st = probabilities(cu, c, T, qs, ks, S);
        for (int r0 = 0; r0 < T && st == CRVQ_OK; r0 += CHUNK) {
            const int nr = chunk_len(T, r0);
            for (int g = 0; g < d.group && st == CRVQ_OK; g++) // O_h[rows] (nr, hd) = P_h[rows, :r0+nr] V_kv[:r0+nr]
                st = crvq_cu_sgemm_strided(cu, 0, 0, nr, d.hd, r0 + nr, 1.0f, S + g * d.TT + (size_t)r0 * T, T, d.gs,
                                           vs, d.kvd, d.hd, 0.0f, out + (t0 + r0) * d.qd + g * d.hd, d.qd, d.gq,
                                           d.nkv);
        }
    }
    return st;
}

// One sequence's backward; the kv heads' dK and dV sum their group's heads
// in head order (g = 0 overwrites), as the CPU's loop over h does.
static crvq_status backward_seq(crvq_cu *cu, const crvq_config *c, int T, const float *q, const float *k,
                                const float *v, const float *dout, float *P, float *dS, float *dq, float *dk,
                                float *dv) {
    const attn_dims d = dims_of(c, T);
    crvq_status st = probabilities(cu, c, T, q, k, P);
    for (int r0 = 0; r0 < T && st == CRVQ_OK; r0 += CHUNK) {
        const int nr = chunk_len(T, r0);
        for (int g = 0; g < d.group && st == CRVQ_OK; g++) // dP_h[rows] (nr, r0+nr) = dO_h[rows] V_kv[:r0+nr]ᵀ
            st = crvq_cu_sgemm_strided(cu, 0, 1, nr, r0 + nr, d.hd, 1.0f, dout + (size_t)r0 * d.qd + g * d.hd, d.qd,
                                       d.gq, v, d.kvd, d.hd, 0.0f, dS + g * d.TT + (size_t)r0 * T, T, d.gs, d.nkv);
    }
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_softmax_back(P, dS, c->n_heads * T, T, CHUNK), "softmax backward");
    for (int g = 0; g < d.group && st == CRVQ_OK; g++) {
        const float beta = g > 0 ? 1.0f : 0.0f;
        for (int r0 = 0; r0 < T && st == CRVQ_OK; r0 += CHUNK) { // dQ_h[rows] = scale dS_h[rows, :r0+nr] K_kv[:r0+nr]
            const int nr = chunk_len(T, r0);
            st = crvq_cu_sgemm_strided(cu, 0, 0, nr, d.hd, r0 + nr, d.scale, dS + g * d.TT + (size_t)r0 * T, T, d.gs,
                                       k, d.kvd, d.hd, 0.0f, dq + (size_t)r0 * d.qd + g * d.hd, d.qd, d.gq, d.nkv);
        }
        for (int c0 = 0; c0 < T && st == CRVQ_OK; c0 += CHUNK) {
            // dV_kv[cols] (nc, hd) += P_h[c0:, cols]ᵀ dO_h[c0:];  dK_kv[cols] += scale dS_h[c0:, cols]ᵀ Q_h[c0:]
            const int nc = chunk_len(T, c0);
            const size_t at = g * d.TT + (size_t)c0 * T + c0;
            st = crvq_cu_sgemm_strided(cu, 1, 0, nc, d.hd, T - c0, 1.0f, P + at, T, d.gs,
                                       dout + (size_t)c0 * d.qd + g * d.hd, d.qd, d.gq, beta, dv + (size_t)c0 * d.kvd,
                                       d.kvd, d.hd, d.nkv);
            if (st == CRVQ_OK)
                st = crvq_cu_sgemm_strided(cu, 1, 0, nc, d.hd, T - c0, d.scale, dS + at, T, d.gs,
                                           q + (size_t)c0 * d.qd + g * d.hd, d.qd, d.gq, beta,
                                           dk + (size_t)c0 * d.kvd, d.kvd, d.hd, d.nkv);
        }
    }
    return st;
}

crvq_status crvq_cu_attn_backward(crvq_cu *cu, const crvq_config *c, int T, int n_seq, const float *q,
                                  const float *k, const float *v, const float *dout, float *P, float *dS, float *dq,
                                  float *dk, float *dv) {
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    crvq_status st = CRVQ_OK;
    for (int s = 0; s < n_seq && st == CRVQ_OK; s++) {
        const size_t t0 = (size_t)s * T;
        st = backward_seq(cu, c, T, q + t0 * qd, k + t0 * kvd, v + t0 * kvd, dout + t0 * qd, P, dS, dq + t0 * qd,
                          dk + t0 * kvd, dv + t0 * kvd);
    }
    return st;
}
