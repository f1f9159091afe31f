// cuda_hessian.c — proxy Hessians H = XᵀX / N on the GPU (see cuda_hessian.h).
// Each window of a tap is uploaded (float32), widened to float64 and added
// with DSYRK to the upper triangle; the end mirrors and divides on the GPU
// and downloads each H once. DSYRK sums in another order than OpenBLAS's
// dsyrk, so H differs from the CPU's in the last bits.
#include "cuda/cuda_hessian.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "util/error.h"

typedef struct cuda_hessian {
    crvq_cu cu;
    int n_taps, max_rows;
    int width[CRVQ_BACKEND_MAX_TAPS];
    double *H[CRVQ_BACKEND_MAX_TAPS];  // the caller's host matrices
    double *dH[CRVQ_BACKEND_MAX_TAPS]; // their accumulators on the GPU
    float *dx;                         // (max_rows, max width) one window of a tap
    double *dx64;                      // the same in float64
} cuda_hessian;

static void release(cuda_hessian *h) {
    for (int t = 0; t < h->n_taps; t++) crvq_cu_free(h->dH[t]);
    crvq_cu_free(h->dx);
    crvq_cu_free(h->dx64);
    crvq_cu_close(&h->cu);
    free(h);
}

crvq_status crvq_cuda_hessian_begin(int n_taps, const int *width, int max_rows, double *const *H, void **ctx) {
    *ctx = NULL;
    if (n_taps < 1 || n_taps > CRVQ_BACKEND_MAX_TAPS || max_rows < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "proxy Hessians: %d taps, %d rows", n_taps, max_rows);
    cuda_hessian *h = calloc(1, sizeof *h);
    if (!h) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for proxy Hessians");
    crvq_status st = crvq_cu_open(&h->cu);
    if (st != CRVQ_OK) {
        free(h);
        return st;
    }
    h->n_taps = n_taps;
    h->max_rows = max_rows;
    int max_w = 0;
    for (int t = 0; t < n_taps && st == CRVQ_OK; t++) {
        size_t bytes = (size_t)width[t] * width[t] * sizeof(double);
        h->width[t] = width[t];
        h->H[t] = H[t];
        if (width[t] > max_w) max_w = width[t];
        st = crvq_cu_alloc(&h->dH[t], bytes, "a proxy Hessian (float64)");
        if (st == CRVQ_OK) st = crvq_cu_check(cudaMemset(h->dH[t], 0, bytes), "zeroing a proxy Hessian");
    }
    size_t rows = (size_t)max_rows * max_w;
    if (st == CRVQ_OK) st = crvq_cu_alloc(&h->dx, rows * sizeof(float), "calibration activations");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&h->dx64, rows * sizeof(double), "calibration activations (float64)");
    if (st != CRVQ_OK) {
        release(h);
        return st;
    }
    *ctx = h;
    return CRVQ_OK;
}

// H[tap] += xᵀx for x (n, width) in GPU memory, max_rows rows at a time
// (the float64 copy holds that many).
crvq_status crvq_cuda_hessian_add_device(void *ctx, int tap, const float *dx, int n) {
    cuda_hessian *h = ctx;
    int w = h->width[tap];
    crvq_status st = CRVQ_OK;
    for (int r0 = 0; r0 < n && st == CRVQ_OK; r0 += h->max_rows) {
        int rows = n - r0 < h->max_rows ? n - r0 : h->max_rows;
        size_t len = (size_t)rows * w;
        st = crvq_cu_check(crvq_cu_widen(len, dx + (size_t)r0 * w, h->dx64), "widening activations");
        if (st == CRVQ_OK) st = crvq_cu_dsyrk_upper(&h->cu, w, rows, h->dx64, h->dH[tap]);
    }
    return st;
}

crvq_status crvq_cuda_hessian_add(void *ctx, int tap, const float *x, int n) {
    cuda_hessian *h = ctx;
    if (n < 1) return CRVQ_OK;
    if (n > h->max_rows) return crvq_fail(CRVQ_ERR_INVALID, "proxy Hessians: %d rows, at most %d", n, h->max_rows);
    crvq_status st = crvq_cu_upload(h->dx, x, (size_t)n * h->width[tap] * sizeof(float));
    return st == CRVQ_OK ? crvq_cuda_hessian_add_device(ctx, tap, h->dx, n) : st;
}

crvq_status crvq_cuda_hessian_end(void *ctx, long long rows) {
    cuda_hessian *h = ctx;
    if (!h) return CRVQ_OK;
    crvq_status st = CRVQ_OK;
    for (int t = 0; rows > 0 && t < h->n_taps && st == CRVQ_OK; t++) {
        int w = h->width[t];
        st = crvq_cu_check(crvq_cu_mirror_scale(w, (double)rows, h->dH[t]), "mirroring a proxy Hessian");
        if (st == CRVQ_OK) st = crvq_cu_download(h->H[t], h->dH[t], (size_t)w * w * sizeof(double));
    }
    release(h);
    return st;
}
