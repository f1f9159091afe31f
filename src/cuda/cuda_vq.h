// cuda_vq.h — the C interface of the CUDA backend (src/cuda/), reached
// through src/backend/backend.c. Without nvcc, src/backend/no_cuda.c
// implements it by failing with "crvq was built without CUDA".
#ifndef CRVQ_CUDA_VQ_H
#define CRVQ_CUDA_VQ_H

#include <stddef.h>

#include "crvq.h"

// 1 if a CUDA GPU and cuBLAS can be used; else 0 and the reason in errbuf.
int crvq_cuda_available(char *errbuf, size_t cap);

// VQ / CRVQ of one layer on the GPU (docs/cuda.md): the algorithm of
// src/quant/vq.c, the same result layout. p is valid for the shape (the
// dispatcher checked it); d > CRVQ_CUDA_MAX_D or beam > 1 are refused.
crvq_status crvq_cuda_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                  const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                  crvq_vq_trace *trace);

// crvq_kmeans (quant/kmeans.h) of host points X (n, d) run on the GPU:
// centroids C (K, d) and, if assign is not NULL, assignments (n). The same
// algorithm; the tests compare it with the CPU's.
crvq_status crvq_cuda_kmeans(const float *X, size_t n, int d, int K, int iters, uint64_t seed, uint64_t stream,
                             size_t max_fit, float *C, uint16_t *assign);

// Float64 linear algebra of crvq_quantize_matrix on the GPU (cuda_linalg.c):
// whether Cholesky of H + shift·I succeeds (cuSOLVER), and L(Ŵ), L(0)
// (cuBLAS DGEMM, rows summed in order on the host).
crvq_status crvq_cuda_cholesky_ok(const double *H, int n, double shift, int *ok);
crvq_status crvq_cuda_layer_losses(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                   double *loss, double *loss0);

// The largest vector dimension the GPU code search handles (one lane of a
// warp per coordinate).
#define CRVQ_CUDA_MAX_D 32

#endif
