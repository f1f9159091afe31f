// block.h — the one forward pass of a transformer block (block.c): serving
// inference (crvq_forward), the pipeline's Hessian taps (crvq_block_forward)
// and fine-tuning (train/block_grad.c's crvq_ft_forward, which saves what
// its backward needs) all run it.
//
// Two things differ between serving and training, and are chosen by the
// caller because their float32 rounding differs and each path keeps the
// bits it always gave: the attention (over the KV cache at any position,
// or per whole sequence from position 0 with the backward beside it,
// model/attention.h) and the compressed linear products (the serving
// kernels, or expanded tiles and one sgemm, model/linear.h).
#ifndef CRVQ_MODEL_BLOCK_H
#define CRVQ_MODEL_BLOCK_H

#include "crvq.h"

// The inputs of a block's linear layers, as a tap sees them.
enum {
    CRVQ_TAP_ATTN_IN,  // normed x: input of q, k, v   (n, dim)
    CRVQ_TAP_ATTN_OUT, // attention output: input of o (n, n_heads*head_dim)
    CRVQ_TAP_FFN_IN,   // normed x: input of gate, up  (n, dim)
    CRVQ_TAP_FFN_ACT,  // silu(gate)*up: input of down (n, hidden_dim)
    CRVQ_N_TAPS
};

typedef void (*crvq_tap_fn)(void *ctx, int tap, const float *x, int n, int width);

// Where one block forward over n token rows reads and writes: n / seqlen
// sequences of seqlen tokens, each starting at position pos. Buffers may
// alias where a value is dead before the next one is written (serving
// reuses one (n, dim) buffer for xn1, o, xn2 and down, with h = y = x);
// training keeps every saved one apart. q_dim = n_heads·head_dim,
// kv_dim = n_kv_heads·head_dim.
typedef struct crvq_block_io {
    int n, seqlen, pos;
    const float *rope_cos, *rope_sin; // (pos + seqlen, head_dim/2) at least
    // serving attention (kc not NULL): this layer's cache (max_seq, kv_dim),
    // k and v must point at its rows pos..pos+n-1; scores (n_heads, q_tile,
    // max_seq) scratch. Else training attention per sequence (pos 0) with
    // att_scratch (crvq_attn_scratch floats).
    const float *kc, *vc;
    int max_seq, q_tile;
    float *scores, *att_scratch;
    // serving over a quantized cache instead (kvq not NULL, kc NULL): k and
    // v are (n, kv_dim) rows of their own, quantized into layer `layer` of
    // kvq at positions pos..pos+n-1 before attention reads it; deq
    // (max_seq, head_dim) scratch (model/attention_kvq.h).
    const struct crvq_kv_cache *kvq;
    int layer;
    float *deq;
    // not NULL: the training linear products (crvq_linear_forward_train)
    // with this scratch (crvq_linear_train_scratch of the largest projection)
    float *lin_scratch;
    crvq_tap_fn tap; // not NULL: called with the input of each group of projections
    void *tap_ctx;
    // NULL: not kept. Otherwise (n) 1/rms of x and of h.
    float *inv1, *inv2;
    const float *x;      // (n, dim) block input
    float *xn1;          // (n, dim) attention norm output
    float *q, *k, *v;    // (n, q_dim), (n, kv_dim) x2; q and k after RoPE
    // q/k-normed models (Qwen3) in training: not NULL, the q and k
    // projections' outputs (n, q_dim), (n, kv_dim) and each head's 1/rms
    // (n·n_heads), (n·n_kv_heads), kept for the backward. NULL: normed in place.
    float *q_raw, *k_raw, *inv_q, *inv_k;
    float *ao;           // (n, q_dim) attention output, heads side by side
    float *o;            // (n, dim) output projection
    float *h;            // (n, dim) x + o, the residual stream after attention
    float *xn2;          // (n, dim) feed-forward norm output
    float *g, *u, *a;    // (n, hidden) gate, up, silu(gate)*up (a may alias g)
    float *down;         // (n, dim) down projection
    float *y;            // (n, dim) h + down, the block output
} crvq_block_io;

// The block L (config c) on io: RMSNorm, q/k/v projections (+ biases),
// per-head q/k RMSNorm (Qwen3), RoPE, causal grouped-query softmax attention, output projection and
// residual, RMSNorm, SwiGLU feed-forward and residual. Call outside OpenMP
// regions.
void crvq_block_run(const crvq_config *c, const crvq_layer *L, const crvq_block_io *io);

#endif
