// block_grad.h — one transformer block's forward pass with saved
// activations, and its backward pass, written out by hand (no autograd):
// the gradients that block fine-tuning needs (src/train/block_ft.c). The
// ops' own forwards and backwards sit side by side in kernels/ops.h
// (RMSNorm, RoPE, SwiGLU), model/attention.h and model/linear.h.
//
// The forward is crvq_block_run (model/block.h), the block forward that
// crvq_forward runs, with the training attention and linear products and
// every activation the backward reads saved; every sequence starts at
// position 0.
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
#include "model/block_proj.h"
#include "model/linear.h"

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
