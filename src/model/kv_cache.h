// kv_cache.h — the quantized KV cache of a state (crvq_state_init_kv with
// kv_bits 8 or 4): every layer's keys and values as groups of
// kernels/kv_quant.h, per (position, kv head). Only the quantized arrays
// are allocated (no float32 copy); new keys and values are quantized as
// they are stored, and attention (model/attention_kvq.h) reads them back.
#ifndef CRVQ_MODEL_KV_CACHE_H
#define CRVQ_MODEL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

typedef struct crvq_kv_cache {
    int bits;                    // 8 or 4
    int n_layers, max_seq, n_kv_heads, head_dim;
    size_t row_bytes;            // codes of one (position, kv head): head_dim·bits/8
    int n_groups;                // scales of one (position, kv head)
    uint8_t *k_codes, *v_codes;  // (n_layers, max_seq, n_kv_heads, row_bytes)
    uint16_t *k_scales, *v_scales; // (n_layers, max_seq, n_kv_heads, n_groups), fp16
    // (all four in one allocation that starts at k_scales)
} crvq_kv_cache;

// Allocate a cache of max_seq positions for config c at 8 or 4 bits.
crvq_status crvq_kv_cache_init(const crvq_config *c, int max_seq, int bits, crvq_kv_cache *kv);
void crvq_kv_cache_free(crvq_kv_cache *kv);

// Bytes the cache holds (codes and scales of keys and values).
size_t crvq_kv_cache_bytes(const crvq_kv_cache *kv);

// Quantize n rows of keys and values, k and v (n, n_kv_heads·head_dim),
// into layer l at positions pos..pos+n-1.
void crvq_kv_cache_store(const crvq_kv_cache *kv, int l, const float *k, const float *v, int n, int pos);

// Index of (layer l, position t, kv head g) among the cache's rows: its
// codes start at row·row_bytes, its scales at row·n_groups.
static inline size_t crvq_kv_cache_row(const crvq_kv_cache *kv, int l, int t, int g) {
    return ((size_t)l * kv->max_seq + (size_t)t) * kv->n_kv_heads + (size_t)g;
}

#endif
