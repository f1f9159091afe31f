// no_cuda.c — the CUDA backend's interface in a build without nvcc (CMake
// compiles this file instead of src/cuda/): every call says why it cannot run.
#include <stdio.h>

#include "cuda/cuda_vq.h"

static const char *why = "crvq was built without CUDA (no nvcc when it was configured, or -DCRVQ_CUDA=OFF)";

int crvq_cuda_available(char *errbuf, size_t cap) {
    if (errbuf && cap) snprintf(errbuf, cap, "%s", why);
    return 0;
}

crvq_status crvq_cuda_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                  const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                  crvq_vq_trace *trace) {
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: %s", why);
}

crvq_status crvq_cuda_kmeans(const float *X, size_t n, int d, int K, int iters, uint64_t seed, uint64_t stream,
                             size_t max_fit, float *C, uint16_t *assign) {
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda k-means: %s", why);
}

crvq_status crvq_cuda_cholesky_ok(const double *H, int n, double shift, int *ok) {
    *ok = 0;
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: %s", why);
}

crvq_status crvq_cuda_layer_losses(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                   double *loss, double *loss0) {
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: %s", why);
}
