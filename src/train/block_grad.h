// block_grad.h — one transformer block's forward pass with saved
// activations, and its backward pass, written out by hand (no autograd):
// the gradients that block fine-tuning needs (src/train/block_ft.c).
//
// The forward computes the same function as one layer of crvq_forward
// (src/model/forward.c): RMSNorm, q/k/v projections (+ biases), RoPE, causal
// grouped-query softmax attention, output projection and residual, RMSNorm,
// SwiGLU feed-forward and residual; every sequence starts at position 0.
// The backward gives dL/dx of the block input and the gradients of the
// continuous parameters of VQ / CRVQ layers (codebooks, row scales) and of
// the two norm weight vectors. Dense and scalar (RTN / GPTQ) layers pass
// gradients through to their inputs but are not trained here; biases are
// frozen too.
//
// Matrix products are sgemm calls made from serial code; OpenMP runs the
// per-row and per-head loops in between (BLAS is never called inside an
// OpenMP region). Results depend on the thread count only through BLAS:
// every reduction written here is split by rows or columns, never by thread.
#ifndef CRVQ_TRAIN_BLOCK_GRAD_H
#define CRVQ_TRAIN_BLOCK_GRAD_H

#include <stddef.h>

#include "crvq.h"
#include "model/forward.h"
#include "model/block_proj.h"

// ------------------------------------------------------------ the pieces ---
// Each backward pass takes the gradient of the loss with respect to the
// op's output and returns those with respect to its inputs (and weights).

// Per-row RMSNorm that also keeps 1/rms of each row: out (n, dim) as
// crvq_rmsnorm computes it, inv_rms (n).
void crvq_rmsnorm_fwd(const float *x, const float *w, int n, int dim, float eps, float *out,
                      float *inv_rms);

// RMSNorm backward, y = w ∘ x · inv_rms: dx (n, dim) += dL/dx when dx is not
// NULL; dw (dim) += dL/dw when dw is not NULL. dy (n, dim).
void crvq_rmsnorm_backward(const float *x, const float *w, const float *inv_rms, const float *dy,
                           int n, int dim, float *dx, float *dw);

// The rotary tables: crvq_rope_tables() in model/forward.h.

// RoPE backward for one position: the forward rotates each pair by +angle,
// so the gradient rotates back by -angle. dx (n_heads, head_dim) in place.
void crvq_rope_backward(float *dx, int n_heads, int head_dim, const float *cos, const float *sin,
                        int interleaved);

// SwiGLU backward, a = silu(g) · u: dg, du (n) = dL/dg, dL/du from da (n).
// dg may alias da.
void crvq_swiglu_backward(const float *g, const float *u, const float *da, float *dg, float *du,
                          int n);

// Floats of scratch the attention of one T-token sequence needs (forward or
// backward): two (heads per chunk, T, T) score buffers, at most 2 x 64 MiB.
size_t crvq_attn_scratch(const crvq_config *c, int T);

// Causal grouped-query attention of one sequence of T tokens at positions
// 0..T-1: q (T, n_heads*head_dim) and k (T, n_kv_heads*head_dim) after RoPE,
// v (T, n_kv_heads*head_dim); out (T, n_heads*head_dim), heads side by side.
void crvq_attn_forward(const crvq_config *c, const float *q, const float *k, const float *v, int T,
                       float *out, float *scratch);

// Its backward from dout (T, n_heads*head_dim): dq (T, q_dim), dk and dv
// (T, kv_dim) are overwritten. The attention weights are recomputed from q
// and k (not saved: n_heads·T² floats per sequence would dominate memory at
// long contexts).
void crvq_attn_backward(const crvq_config *c, const float *q, const float *k, const float *v,
                        const float *dout, int T, float *dq, float *dk, float *dv, float *scratch);

// ------------------------------------------------------- linear layers ---

// Gradients of a VQ / CRVQ layer's continuous parameters, accumulated (+=).
typedef struct crvq_linear_grad {
    float *cb[CRVQ_MAX_CODEBOOKS]; // k < M: (2^e[k], d) dL/dCk
    float *scales;                 // (m_out) dL/ds
} crvq_linear_grad;

// Floats of scratch crvq_linear_forward_train and crvq_linear_backward need
// for L (one expanded tile of rows, and for VQ a second tile and the
// gradient accumulators).
size_t crvq_linear_train_scratch(const crvq_linear *L);

// y (n, n_out) = x (n, n_in) Ŵᵀ (+ b), as crvq_linear_forward computes it,
// but compressed layers are expanded into large tiles and multiplied with
// one sgemm per tile (few switches between OpenMP and BLAS threads; see
// linear_grad.c). Call outside OpenMP regions.
void crvq_linear_forward_train(const crvq_linear *L, const float *x, int n, float *y, float *scratch);

// Backward of y = x Ŵᵀ (+ b) over n rows, from dy (n, n_out):
//   dx (n, n_in) = dy Ŵ            (accumulate: dx += dy Ŵ)
// and, when g is not NULL (VQ layers only), from dŴ = dyᵀ x in permuted
// column order, with codes and permutation frozen,
//   dL/dCk[c] += Σ_{(r,g) using c in codebook k} s_r · dŴ[r,g]
//   dL/ds_r   += Σ_g dŴ[r,g] · ŵ[r,g] / s_r
// Ŵ and dŴ are formed a tile of rows at a time (bounded memory).
// x (n, n_in) is only read when g is set. scratch: crvq_linear_train_scratch
// floats. Call outside OpenMP regions.
void crvq_linear_backward(const crvq_linear *L, const float *x, const float *dy, int n, float *dx,
                          int accumulate, const crvq_linear_grad *g, float *scratch);

// ------------------------------------------------------------ the block ---

// Where the backward puts parameter gradients (accumulated, +=). NULL
// pointers are not computed; lin[i].scales NULL means no gradients for
// projection i (always so for dense and scalar projections).
typedef struct crvq_ft_grad {
    float *attn_norm; // (dim)
    float *ffn_norm;  // (dim)
    crvq_linear_grad lin[CRVQ_PROJ_COUNT]; // indexed by crvq_proj
} crvq_ft_grad;

// Saved activations and scratch for up to max_seqs sequences of seqlen
// tokens: (3·dim + 2·q_dim + 2·kv_dim + 3·hidden) floats per token for the
// forward, about as much again for the backward, the attention scores
// (crvq_attn_scratch) and the projections' tiles (crvq_linear_train_scratch).
// pg-dev, 4 x 512 tokens: about 140 MiB.
typedef struct crvq_ft_ws crvq_ft_ws;

crvq_status crvq_ft_ws_init(const crvq_config *c, const crvq_layer *L, int max_seqs, int seqlen,
                            crvq_ft_ws **out);
void crvq_ft_ws_free(crvq_ft_ws *ws);

// y (n_seq, seqlen, dim) = the block applied to x (n_seq, seqlen, dim), each
// sequence from position 0. Saves what the backward needs in ws, including
// the pointer x: keep x unchanged until crvq_ft_backward.
void crvq_ft_forward(const crvq_config *c, const crvq_layer *L, crvq_ft_ws *ws, const float *x,
                     int n_seq, float *y);

// Backward of the last crvq_ft_forward on ws (same c and L) from dy
// (n_seq, seqlen, dim): parameter gradients into g (may be NULL), and
// dx (n_seq, seqlen, dim) = dL/dx when dx is not NULL.
void crvq_ft_backward(const crvq_config *c, const crvq_layer *L, crvq_ft_ws *ws, const float *dy,
                      const crvq_ft_grad *g, float *dx);

#endif
