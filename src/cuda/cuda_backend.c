// cuda_backend.c — the CUDA backend's table (src/backend/backend.h): the
// GPU code of src/cuda/ behind the seam. backend.c finds it through
// crvq_backend_cuda_table, which a build without nvcc defines as NULL
// (src/backend/no_cuda.c).
#include "backend/backend.h"

#include "cuda/cuda_block.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_e2e.h"
#include "cuda/cuda_ft.h"
#include "cuda/cuda_ft_grad.h"
#include "cuda/cuda_hessian.h"
#include "cuda/cuda_kmeans.h"
#include "cuda/cuda_linalg.h"
#include "cuda/cuda_serve.h"
#include "cuda/cuda_vq.h"

// The GPU factorises a device copy of H: no host scratch.
static crvq_status cholesky_ok(const double *H, int n, double shift, double *work, int *ok) {
    (void)work;
    return crvq_cuda_cholesky_ok(H, n, shift, ok);
}

// No scalar_quantize: the GPU runs vq and crvq (quantize_matrix.c refuses
// rtn and gptq on it before looking at the table).
static const crvq_backend cuda = {
    .available = crvq_cuda_available,
    .vq_quantize = crvq_cuda_vq_quantize,
    .cholesky_ok = cholesky_ok,
    .layer_losses = crvq_cuda_layer_losses,
    .kmeans = crvq_cuda_kmeans,
    .hessian_begin = crvq_cuda_hessian_begin,
    .hessian_add = crvq_cuda_hessian_add,
    .hessian_end = crvq_cuda_hessian_end,
    .block_forward = crvq_cuda_block_forward,
    .block_finetune = crvq_cuda_block_finetune,
    .block_ft_grad = crvq_cuda_block_ft_grad,
    .serve_open = crvq_cuda_serve_open,
    .serve_forward = crvq_cuda_serve_forward,
    .serve_close = crvq_cuda_serve_close,
    .e2e = &crvq_cuda_e2e,
};

const crvq_backend *const crvq_backend_cuda_table = &cuda;
