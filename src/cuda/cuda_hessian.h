// cuda_hessian.h — the pipeline's proxy Hessians on the GPU (backend.h's
// hessian_* entries): float64 accumulators in GPU memory, one cuBLAS DSYRK
// per tap and calibration window, one download per tap at the end.
#ifndef CRVQ_CUDA_HESSIAN_H
#define CRVQ_CUDA_HESSIAN_H

#include "crvq.h"

crvq_status crvq_cuda_hessian_begin(int n_taps, const int *width, int max_rows, double *const *H, void **ctx);
crvq_status crvq_cuda_hessian_add(void *ctx, int tap, const float *x, int n);
// The same add for activations already in GPU memory, dx (n, width[tap]),
// any n: the GPU block forward (cuda_block.c) taps its own buffers, with no
// copy through the host.
crvq_status crvq_cuda_hessian_add_device(void *ctx, int tap, const float *dx, int n);
crvq_status crvq_cuda_hessian_end(void *ctx, long long rows);

#endif
