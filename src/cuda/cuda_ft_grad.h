// cuda_ft_grad.h — one block's forward with saved activations and its
// backward on the GPU: train/block_grad.h's crvq_ft_forward and
// crvq_ft_backward on a cuda_ft_ws.h workspace, the projections as cuBLAS
// SGEMMs (FP32, no TF32) on Ŵ, the small ops cu_block.cu's and
// cu_train.cu's kernels, attention cuda_attn.c's.
#ifndef CRVQ_CUDA_FT_GRAD_H
#define CRVQ_CUDA_FT_GRAD_H

#include "crvq.h"
#include "cuda/cuda_ft_ws.h"

// Ŵ of every VQ / CRVQ projection from ws->params: after every change of them.
crvq_status crvq_cu_ft_expand(crvq_cu_ft_ws *ws);

// ws->y (n_seq·T, dim) = the block applied to x (n_seq·T, dim, device),
// every sequence from position 0; keeps x (unchanged until the backward).
crvq_status crvq_cu_ft_forward(crvq_cu_ft_ws *ws, const float *x, int n_seq);

// Backward of the last forward from dy (n_seq·T, dim, device): the
// parameter gradients added into ws->grad (the layout of ws->bp; dense and
// scalar projections, codes and biases get none), and dx = dL/dx (device)
// when dx is not NULL.
crvq_status crvq_cu_ft_backward(crvq_cu_ft_ws *ws, const float *dy, float *dx);

// The backend's block_ft_grad entry (backend.h), host arrays in and out.
crvq_status crvq_cuda_block_ft_grad(const crvq_config *c, const crvq_layer *L, const float *x, const float *dy,
                                    int n_seq, int seqlen, float *y, float *grad, float *dx);

#endif
