// cuda_ft_ws.h — what block fine-tuning keeps in GPU memory for one block
// (cuda_ft.c trains with it, cuda_ft_grad.c computes with it): the trained
// flat parameter vector in train/block_params.h's layout and its gradient,
// the block's projections as float32 Ŵ (frozen ones uploaded once, VQ /
// CRVQ ones expanded from the vector after every change), the frozen codes
// grouped by code once (the codebook gradients' segments), and the saved
// activations and backward buffers of up to max_seqs sequences.
#ifndef CRVQ_CUDA_FT_WS_H
#define CRVQ_CUDA_FT_WS_H

#include <stddef.h>

#include "crvq.h"
#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_segments.h"
#include "model/block_proj.h"
#include "train/block_params.h"

typedef struct crvq_cu_ft_proj {
    int vq;                                // trained (VQ / CRVQ), else frozen
    int n_out, n_in;
    float *w;                              // (n_out, n_in) Ŵ, original column order
    float *bias;                           // (n_out) or NULL (frozen)
    crvq_cu_vq_train L;                    // VQ: device codes and perm, codebooks and scales in params
    crvq_cu_segs seg[CRVQ_MAX_CODEBOOKS];  // VQ: items of codebook k grouped by code
} crvq_cu_ft_proj;

typedef struct crvq_cu_ft_ws {
    crvq_cu cu;
    const crvq_config *c;
    int T, B;                              // tokens per sequence, most sequences per call
    int n_seq;                             // sequences of the last forward
    crvq_block_params bp;                  // host: the vector's layout (its view is not bound)
    size_t n;                              // floats of the vector
    float *params, *grad;                  // (n) each
    crvq_cu_ft_proj proj[CRVQ_PROJ_COUNT];
    float *q_norm, *k_norm;                // (head_dim) or NULL (frozen)
    float *cos_t, *sin_t;                  // (T, head_dim/2)
    const float *x;                        // (N, dim) input of the last forward (not owned)
    // saved by the forward; N = n_seq·T rows
    float *inv1, *inv2;                    // (N)
    float *xn1, *h, *xn2, *y;              // (N, dim)
    float *q, *ao, *q_raw;                 // (N, q_dim); q_raw only with q/k norms
    float *k, *v, *k_raw;                  // (N, kv_dim)
    float *inv_q, *inv_k;                  // (N·n_heads), (N·n_kv_heads) with q/k norms
    float *g, *u, *a;                      // (N, hidden)
    // backward
    float *dy, *dh, *dxn;                  // (N, dim)
    float *dg, *du;                        // (N, hidden)
    float *dao, *dq;                       // (N, q_dim)
    float *dk, *dv;                        // (N, kv_dim)
    float *dW;                             // (largest n_out·n_in) dyᵀx of one VQ projection
    float *P, *dS;                         // (n_heads, T, T) each
    double *acc;                           // (largest K·d) one codebook's gradient
    float *host, *host_cbt;                // host: the vector (n) as bp binds it, its transposed codebooks
} crvq_cu_ft_ws;

// Open the GPU, upload block L's parameters and frozen weights, allocate
// the buffers; with backward 0 (a teacher's blocks: forward passes only) the
// gradient buffers (dy .. dv, dW, dS, acc) stay NULL. On error everything is
// freed.
crvq_status crvq_cu_ft_ws_init(const crvq_config *c, const crvq_layer *L, int max_seqs, int seqlen, int backward,
                               crvq_cu_ft_ws *ws);
void crvq_cu_ft_ws_free(crvq_cu_ft_ws *ws);

#endif
