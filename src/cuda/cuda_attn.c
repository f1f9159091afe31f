// cuda_attn.c — causal attention forward and backward on the GPU (see cuda_attn.h).
#include "cuda/cuda_attn.h"

#include <math.h>

#include "cuda/cu_kernels.h"

// P (n_heads, T, T) = causal softmax of scale·Q_h K_kvᵀ for one sequence.
static crvq_status probabilities(crvq_cu *cu, const crvq_config *c, int T, const float *q, const float *k,
                                 float *P) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, nkv = c->n_kv_heads;
    const int qd = c->n_heads * hd, kvd = nkv * hd;
    const long long TT = (long long)T * T;
    const float scale = 1.0f / sqrtf((float)hd);
    crvq_status st = CRVQ_OK;
    for (int g = 0; g < group && st == CRVQ_OK; g++) // S_h (T, T) = scale Q_h (T, hd) K_kvᵀ
        st = crvq_cu_sgemm_strided(cu, 0, 1, T, T, hd, scale, q + g * hd, qd, (long long)group * hd, k, kvd, hd,
                                   0.0f, P + g * TT, T, group * TT, nkv);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_causal_softmax(P, c->n_heads * T, T), "attention softmax");
    return st;
}

crvq_status crvq_cu_attn_forward(crvq_cu *cu, const crvq_config *c, int T, int n_seq, const float *q,
                                 const float *k, const float *v, float *S, float *out) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, nkv = c->n_kv_heads;
    const int qd = c->n_heads * hd, kvd = nkv * hd;
    const long long TT = (long long)T * T;
    crvq_status st = CRVQ_OK;
    for (int s = 0; s < n_seq && st == CRVQ_OK; s++) {
        const size_t t0 = (size_t)s * T;
        const float *qs = q + t0 * qd, *ks = k + t0 * kvd, *vs = v + t0 * kvd;
        st = probabilities(cu, c, T, qs, ks, S);
        for (int g = 0; g < group && st == CRVQ_OK; g++) // O_h (T, hd) = P_h (T, T) V_kv (T, hd)
            st = crvq_cu_sgemm_strided(cu, 0, 0, T, hd, T, 1.0f, S + g * TT, T, group * TT, vs, kvd, hd, 0.0f,
                                       out + t0 * qd + g * hd, qd, (long long)group * hd, nkv);
    }
    return st;
}

// One sequence's backward; the kv heads' dK and dV sum their group's heads
// in head order (g = 0 overwrites), as the CPU's loop over h does.
static crvq_status backward_seq(crvq_cu *cu, const crvq_config *c, int T, const float *q, const float *k,
                                const float *v, const float *dout, float *P, float *dS, float *dq, float *dk,
                                float *dv) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, nkv = c->n_kv_heads;
    const int qd = c->n_heads * hd, kvd = nkv * hd;
    const long long TT = (long long)T * T, gq = (long long)group * hd, gs = group * TT;
    const float scale = 1.0f / sqrtf((float)hd);
    crvq_status st = probabilities(cu, c, T, q, k, P);
    for (int g = 0; g < group && st == CRVQ_OK; g++) // dP_h (T, T) = dO_h (T, hd) V_kvᵀ
        st = crvq_cu_sgemm_strided(cu, 0, 1, T, T, hd, 1.0f, dout + g * hd, qd, gq, v, kvd, hd, 0.0f, dS + g * TT,
                                   T, gs, nkv);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_softmax_back(P, dS, c->n_heads * T, T), "softmax backward");
    for (int g = 0; g < group && st == CRVQ_OK; g++) {
        const float beta = g > 0 ? 1.0f : 0.0f;
        // dV_kv (T, hd) += P_hᵀ dO_h;  dQ_h (T, hd) = scale dS_h K_kv;  dK_kv (T, hd) += scale dS_hᵀ Q_h
        st = crvq_cu_sgemm_strided(cu, 1, 0, T, hd, T, 1.0f, P + g * TT, T, gs, dout + g * hd, qd, gq, beta, dv,
                                   kvd, hd, nkv);
        if (st == CRVQ_OK)
            st = crvq_cu_sgemm_strided(cu, 0, 0, T, hd, T, scale, dS + g * TT, T, gs, k, kvd, hd, 0.0f, dq + g * hd,
                                       qd, gq, nkv);
        if (st == CRVQ_OK)
            st = crvq_cu_sgemm_strided(cu, 1, 0, T, hd, T, scale, dS + g * TT, T, gs, q + g * hd, qd, gq, beta, dk,
                                       kvd, hd, nkv);
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
