// cuda_linalg.h — the float64 linear algebra of crvq_quantize_matrix on the
// GPU (cuda_linalg.c), the CUDA backend's cholesky_ok and layer_losses.
#ifndef CRVQ_CUDA_LINALG_H
#define CRVQ_CUDA_LINALG_H

#include "crvq.h"

// Whether Cholesky of H + shift·I (n, n) succeeds (cuSOLVER): *ok 1 or 0.
crvq_status crvq_cuda_cholesky_ok(const double *H, int n, double shift, int *ok);
// L(Ŵ), L(0) (cuBLAS DGEMM, rows summed in order on the host).
crvq_status crvq_cuda_layer_losses(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                   double *loss, double *loss0);

#endif
