// cuda_device.h — the GPU, cuBLAS and error handling for the CUDA backend's
// host code (src/cuda/*.c).
//
// cuBLAS is loaded with dlopen on first use instead of being linked: linking
// it makes every start of the crvq binary load ~570 MB of libraries (about a
// second warm, five cold, measured on the development machine), also for
// commands that never touch the GPU.
#ifndef CRVQ_CUDA_DEVICE_H
#define CRVQ_CUDA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

typedef struct crvq_cu {
    void *blas; // cublasHandle_t
} crvq_cu;

// 1 if a CUDA GPU and cuBLAS can be used; else 0 and the reason in errbuf.
int crvq_cuda_available(char *errbuf, size_t cap);

// Pick the GPU, create a cuBLAS handle (FP32 math, no TF32).
crvq_status crvq_cu_open(crvq_cu *cu);
void crvq_cu_close(crvq_cu *cu);

// err (a cudaError_t) as a crvq status: CRVQ_OK for 0, else a message
// naming `what` and CUDA's description.
crvq_status crvq_cu_check(int err, const char *what);

// C (m, n) = A (m, k)·B (k, n) + beta·C, row-major, FP32 (cuBLAS).
crvq_status crvq_cu_sgemm(crvq_cu *cu, int m, int n, int k, const float *A, const float *B, float beta, float *C);

// For b < batch: C_b (m, n) = alpha·op(A_b) (m, k)·op(B_b) (k, n) + beta·C_b,
// row-major with leading dimensions lda, ldb, ldc; op transposes when ta /
// tb is set; the b-th matrices start at A + b·sa, B + b·sb, C + b·sc. FP32
// (cuBLAS's strided batched SGEMM, no TF32).
crvq_status crvq_cu_sgemm_strided(crvq_cu *cu, int ta, int tb, int m, int n, int k, float alpha, const float *A,
                                  int lda, long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                                  int ldc, long long sc, int batch);

// y (n, n_out) = x (n, n_in)·wᵀ (+ bias (n_out) when not NULL), w (n_out,
// n_in): a linear layer's forward (model/linear.h) as one SGEMM.
crvq_status crvq_cu_linear(crvq_cu *cu, const float *w, const float *bias, const float *x, int n, int n_out,
                           int n_in, float *y);

// y (m) = A (m, n)·x (n), A and x fp16 (bits), y float32, FP32
// accumulation (cublasGemmEx): the baseline decode product of
// bench/cuda_gemv.c.
crvq_status crvq_cu_gemv_f16(crvq_cu *cu, int m, int n, const uint16_t *A, const uint16_t *x, float *y);

// C (m, n) = A (m, k)·B (k, n), row-major, FP64 (cuBLAS).
crvq_status crvq_cu_dgemm(crvq_cu *cu, int m, int n, int k, const double *A, const double *B, double *C);
// C (n, n) += Xᵀ·X for X (k, n), row-major, FP64: only C's upper triangle
// (row-major) is written (cuBLAS DSYRK).
crvq_status crvq_cu_dsyrk_upper(crvq_cu *cu, int n, int k, const double *X, double *C);
// Cholesky of the symmetric A (n, n, device) in place (cuSOLVER, loaded on
// first use): *ok 1 if it succeeded, 0 if A is not positive definite.
crvq_status crvq_cu_potrf_ok(double *A, int n, int *ok);

// cudaMalloc of `bytes` (0 allowed: *p = NULL), message naming `what`.
crvq_status crvq_cu_alloc(void *p, size_t bytes, const char *what);
void crvq_cu_free(void *p);
crvq_status crvq_cu_upload(void *dst, const void *src, size_t bytes);
// A host array of `bytes` into a new device buffer *dst (a pointer's address;
// src NULL or bytes 0: *dst = NULL and no allocation), message naming `what`.
crvq_status crvq_cu_put(void *dst, const void *src, size_t bytes, const char *what);
crvq_status crvq_cu_download(void *dst, const void *src, size_t bytes);
// Device to device; and bytes zeroed at p.
crvq_status crvq_cu_copy(void *dst, const void *src, size_t bytes);
crvq_status crvq_cu_zero(void *p, size_t bytes);
// Wait for the device; seconds of the host clock.
crvq_status crvq_cu_sync(void);
double crvq_cu_seconds(void);

#endif
