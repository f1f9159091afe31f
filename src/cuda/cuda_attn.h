// cuda_attn.h — causal attention of a batch of sequences on the GPU, forward
// and backward (model/attention.c's crvq_attn_forward and
// crvq_attn_backward): per sequence, per position g in the kv groups, one
// strided batched SGEMM over the kv heads (heads h = kv·group + g of one g
// share a stride: group·hd in q, hd in k and v), the causal softmax and its
// backward by cu_block.cu's and cu_train.cu's kernels.
#ifndef CRVQ_CUDA_ATTN_H
#define CRVQ_CUDA_ATTN_H

#include "crvq.h"
#include "cuda/cuda_device.h"

// out (n_seq·T, q_dim) = attention of q (n_seq·T, q_dim), k, v (n_seq·T,
// kv_dim), every sequence from position 0. S: (n_heads, T, T) scratch.
crvq_status crvq_cu_attn_forward(crvq_cu *cu, const crvq_config *c, int T, int n_seq, const float *q,
                                 const float *k, const float *v, float *S, float *out);

// From dout (n_seq·T, q_dim): dq (q's shape), dk, dv (k's shape), all
// overwritten. P, dS: (n_heads, T, T) scratch each (the scores are
// recomputed, as on the CPU).
crvq_status crvq_cu_attn_backward(crvq_cu *cu, const crvq_config *c, int T, int n_seq, const float *q,
                                  const float *k, const float *v, const float *dout, float *P, float *dS, float *dq,
                                  float *dk, float *dv);

#endif
