// attention_kvq.c — serving attention over a quantized KV cache (see
// attention_kvq.h).
#include "model/attention_kvq.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels/kv_quant.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "util/threads.h"

// One token at position pos: the scores are dot products on the codes and
// the output sums the codes scaled by weight x scale, so decoding reads the
// cache once, in its compact form (no float copy of the context).
static void attn_one(const crvq_config *c, const float *q, const crvq_kv_cache *kv, int l, int pos, float *scores,
                     float *att) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, bits = kv->bits;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t work = (size_t)c->n_heads * (pos + 1) * hd;
#pragma omp parallel for schedule(static) if (work >= CRVQ_PAR_MIN_WORK)
    for (int h = 0; h < c->n_heads; h++) {
        const float *qh = q + (size_t)h * hd;
        float *sc = scores + (size_t)h * kv->max_seq; // (pos+1)
        for (int t = 0; t <= pos; t++) {
            size_t row = crvq_kv_cache_row(kv, l, t, h / group);
            sc[t] = crvq_kvq_dot(bits, qh, kv->k_codes + row * kv->row_bytes, kv->k_scales + row * kv->n_groups,
                                 hd) * scale;
        }
        crvq_softmax(sc, pos + 1);
        float *out = att + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof *out);
        for (int t = 0; t <= pos; t++) {
            size_t row = crvq_kv_cache_row(kv, l, t, h / group);
            crvq_kvq_axpy(bits, sc[t], kv->v_codes + row * kv->row_bytes, kv->v_scales + row * kv->n_groups, hd,
                          out);
        }
    }
}

// Rows 0..L-1 of kv head g of layer l, keys (values: 0) or values (1),
// dequantized into deq (L, head_dim).
static void dequantize_head(const crvq_kv_cache *kv, int l, int g, int values, int L, float *deq) {
    const uint8_t *codes = values ? kv->v_codes : kv->k_codes;
    const uint16_t *scales = values ? kv->v_scales : kv->k_scales;
    const int hd = kv->head_dim;
#pragma omp parallel for schedule(static) if ((size_t)L * hd >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < L; t++) {
        size_t row = crvq_kv_cache_row(kv, l, t, g);
        crvq_kvq_dequantize(kv->bits, codes + row * kv->row_bytes, scales + row * kv->n_groups, hd,
                            deq + (size_t)t * hd);
    }
}

// n > 1 tokens in query tiles, as attn_batch of attention.c: per tile, each
// kv head's keys are dequantized once for the heads that share them, then
// S_h = scale Q_h K_gᵀ, the masked softmax, and O_h = S_h V_g.
static void attn_batch(const crvq_config *c, const float *q, const crvq_kv_cache *kv, int l, int n, int pos,
                       int q_tile, float *scores, float *deq, float *att) {
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, q_dim = c->n_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int i0 = 0; i0 < n; i0 += q_tile) {
        const int T = n - i0 < q_tile ? n - i0 : q_tile, L = pos + i0 + T;
        const float *qt = q + (size_t)i0 * q_dim;
        float *ot = att + (size_t)i0 * q_dim;
        for (int g = 0; g < c->n_kv_heads; g++) {
            dequantize_head(kv, l, g, 0, L, deq);
            for (int h = g * group; h < (g + 1) * group; h++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, L, hd, scale, qt + (size_t)h * hd, q_dim,
                            deq, hd, 0.0f, scores + (size_t)h * T * L, L);
        }
        crvq_attn_softmax_tile(c, scores, T, L, pos + i0);
        for (int g = 0; g < c->n_kv_heads; g++) {
            dequantize_head(kv, l, g, 1, L, deq);
            for (int h = g * group; h < (g + 1) * group; h++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, L, 1.0f, scores + (size_t)h * T * L,
                            L, deq, hd, 0.0f, ot + (size_t)h * hd, q_dim);
        }
    }
}

void crvq_attn_cached_kvq(const crvq_config *c, const float *q, const crvq_kv_cache *kv, int l, int n, int pos,
                          int q_tile, float *scores, float *deq, float *out) {
    if (n == 1)
        attn_one(c, q, kv, l, pos, scores, out);
    else
        attn_batch(c, q, kv, l, n, pos, q_tile, scores, deq, out);
}
