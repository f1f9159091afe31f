// attention_kvq.h — serving attention over a quantized KV cache
// (model/kv_cache.h): the same causal grouped-query softmax attention as
// crvq_attn_cached (model/attention.h), with keys and values read from
// 8- or 4-bit groups.
#ifndef CRVQ_MODEL_ATTENTION_KVQ_H
#define CRVQ_MODEL_ATTENTION_KVQ_H

#include "crvq.h"
#include "model/kv_cache.h"

// n tokens at positions pos..pos+n-1, q (n, n_heads*head_dim) after RoPE,
// over layer l of kv, which holds positions 0..pos+n-1; out (n,
// n_heads*head_dim). n = 1 computes every score and weighted sum on the
// integer codes with their scales, one head per thread; n > 1 dequantizes
// one kv head's rows 0..L-1 at a time into deq (max_seq, head_dim floats
// of scratch) and runs the query tiles of crvq_attn_cached by sgemm.
// scores: (n_heads, q_tile, max_seq) floats. Call outside OpenMP regions.
void crvq_attn_cached_kvq(const crvq_config *c, const float *q, const crvq_kv_cache *kv, int l, int n, int pos,
                          int q_tile, float *scores, float *deq, float *out);

#endif
