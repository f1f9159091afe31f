// attention.h — causal grouped-query softmax attention of a block, in its
// two shapes: serving (any start position, keys and values from the KV
// cache) and training (whole sequences from position 0, with the backward
// beside it). They compute the same function with different matrix shapes
// (query tiles over the cache against head chunks over T x T), so their
// float32 results need not agree to the last bit; each is kept as it is so
// that inference and fine-tuning give the bits they always gave.
#ifndef CRVQ_MODEL_ATTENTION_H
#define CRVQ_MODEL_ATTENTION_H

#include <stddef.h>

#include "crvq.h"

// Serving: n tokens at positions pos..pos+n-1, q (n, n_heads*head_dim)
// after RoPE, over this layer's cache kc, vc (max_seq, n_kv_heads*head_dim)
// that holds positions 0..pos+n-1; out (n, n_heads*head_dim), heads side by
// side. n = 1 runs explicit loops, one head per thread; n > 1 runs query
// tiles of at most q_tile rows by sgemm. scores: (n_heads, q_tile, max_seq)
// floats of scratch. Call outside OpenMP regions.
void crvq_attn_cached(const crvq_config *c, const float *q, const float *kc, const float *vc, int n, int pos,
                      int q_tile, int max_seq, float *scores, float *out);

// The masked softmax of a query tile's scores (n_heads, T, L): row r of
// each head sees keys 0..first+r, the rest of the row is zeroed. Shared by
// the float32 and the quantized cache's attention (model/attention_kvq.h).
void crvq_attn_softmax_tile(const crvq_config *c, float *scores, int T, int L, int first);

// Training. Floats of scratch the attention of one T-token sequence needs
// (forward or backward): two (heads per chunk, T, T) score buffers, at most
// 2 x 64 MiB.
size_t crvq_attn_scratch(const crvq_config *c, int T);

// One sequence of T tokens at positions 0..T-1: q (T, n_heads*head_dim) and
// k (T, n_kv_heads*head_dim) after RoPE, v (T, n_kv_heads*head_dim);
// out (T, n_heads*head_dim), heads side by side.
void crvq_attn_forward(const crvq_config *c, const float *q, const float *k, const float *v, int T,
                       float *out, float *scratch);

// Its backward from dout (T, n_heads*head_dim): dq (T, q_dim), dk and dv
// (T, kv_dim) are overwritten. The attention weights are recomputed from q
// and k (not saved: n_heads·T² floats per sequence would dominate memory at
// long contexts).
void crvq_attn_backward(const crvq_config *c, const float *q, const float *k, const float *v,
                        const float *dout, int T, float *dq, float *dk, float *dv, float *scratch);

#endif
