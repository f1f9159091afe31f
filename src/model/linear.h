// linear.h — y = x Ŵᵀ (+ b) for every kind of linear layer (dense, VQ /
// CRVQ, scalar): the serving forward every projection of the forward pass
// goes through, and for fine-tuning a forward with its backward beside it.
// The two forwards round differently for compressed layers (the serving
// kernels decode codes on the fly, training expands Ŵ tiles for one sgemm),
// so each path keeps its own.
#ifndef CRVQ_MODEL_LINEAR_H
#define CRVQ_MODEL_LINEAR_H

#include <stddef.h>

#include "crvq.h"

// y = x Wᵀ (+ b) for n rows: x (n, n_in), y (n, n_out). Must not be called
// from inside an OpenMP parallel region: the dense kind calls BLAS, which
// runs its own threads.
void crvq_linear_forward(const crvq_linear *L, const float *x, int n, float *y);

// Rows [r0, r1) of a dense layer's W as float32 into dst ((r1 - r0), n_in):
// copied, or widened exactly from its bf16 / fp16 storage.
void crvq_linear_dense_rows(const crvq_linear *L, int r0, int r1, float *dst);

// Rows [r0, r1) of Ŵ of a layer of any kind as float32 into dst ((r1 - r0),
// n_in), original column order: what the layer computes with, one slice at a
// time (crvq export writes a model this way). tmp, of the same size, is
// scratch for a permuted VQ layer. Call outside OpenMP regions.
void crvq_linear_rows(const crvq_linear *L, int r0, int r1, float *dst, float *tmp);

// The whole W of a dense layer as float32: L->w itself (*owned NULL), or a
// widened copy in a new buffer *owned, which the caller frees.
crvq_status crvq_linear_dense_f32(const crvq_linear *L, const float **w, float **owned);

// Gradients of a VQ / CRVQ layer's continuous parameters, accumulated (+=).
typedef struct crvq_linear_grad {
    float *cb[CRVQ_MAX_CODEBOOKS]; // k < M: (2^e[k], d) dL/dCk
    float *scales;                 // (m_out) dL/ds
} crvq_linear_grad;

// Floats of scratch crvq_linear_forward_train and crvq_linear_backward need
// for L (one expanded tile of rows, and for VQ a second tile and the
// gradient accumulators).
size_t crvq_linear_train_scratch(const crvq_linear *L);

// y (n, n_out) = x (n, n_in) Ŵᵀ (+ b), the function crvq_linear_forward
// computes (the same bits for a dense layer), but compressed layers are
// expanded into large tiles and multiplied with one sgemm per tile (few
// switches between OpenMP and BLAS threads; see linear.c). Call outside
// OpenMP regions.
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

#endif
