// cuda_device.c — the GPU, cuBLAS (loaded at run time) and errors (see cuda_device.h).
#include "cuda/cuda_device.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_profile.h"
#include "util/error.h"

// Set by CMake from the toolkit found at configure time.
#ifndef CRVQ_CUBLAS_SONAME
#define CRVQ_CUBLAS_SONAME "libcublas.so"
#endif
#ifndef CRVQ_CUDA_LIBDIR
#define CRVQ_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

typedef cublasStatus_t (*create_fn)(cublasHandle_t *);
typedef cublasStatus_t (*destroy_fn)(cublasHandle_t);
typedef cublasStatus_t (*math_fn)(cublasHandle_t, cublasMath_t);
typedef cublasStatus_t (*sgemm_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                   const float *, const float *, int, const float *, int, const float *, float *,
                                   int);
typedef cublasStatus_t (*sgemm_strided_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                           const float *, const float *, int, long long, const float *, int,
                                           long long, const float *, float *, int, long long, int);
typedef cublasStatus_t (*dgemm_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                   const double *, const double *, int, const double *, int, const double *,
                                   double *, int);
typedef cublasStatus_t (*dsyrk_fn)(cublasHandle_t, cublasFillMode_t, cublasOperation_t, int, int, const double *,
                                   const double *, int, const double *, double *, int);
typedef cublasStatus_t (*gemm_ex_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                     const void *, const void *, cudaDataType, int, const void *, cudaDataType, int,
                                     const void *, void *, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
typedef cusolverStatus_t (*sv_create_fn)(cusolverDnHandle_t *);
typedef cusolverStatus_t (*sv_destroy_fn)(cusolverDnHandle_t);
typedef cusolverStatus_t (*potrf_size_fn)(cusolverDnHandle_t, cublasFillMode_t, int, double *, int, int *);
typedef cusolverStatus_t (*potrf_fn)(cusolverDnHandle_t, cublasFillMode_t, int, double *, int, double *, int, int *);

static struct {
    int tried;
    void *lib;
    sv_create_fn create;
    sv_destroy_fn destroy;
    potrf_size_fn potrf_size;
    potrf_fn potrf;
} solver;

static struct {
    int tried;
    void *lib;
    char why[256];
    create_fn create;
    destroy_fn destroy;
    math_fn math;
    sgemm_fn sgemm;
    sgemm_strided_fn sgemm_strided;
    dgemm_fn dgemm;
    dsyrk_fn dsyrk;
    gemm_ex_fn gemm_ex;
} blas;

// Load cuBLAS once: by its soname (LD_LIBRARY_PATH, the loader's cache),
// then from the toolkit crvq was built against.
static int load_cublas(void) {
    if (blas.tried) return blas.lib != NULL;
    blas.tried = 1;
    blas.lib = dlopen(CRVQ_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!blas.lib) blas.lib = dlopen(CRVQ_CUDA_LIBDIR "/" CRVQ_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!blas.lib) {
        const char *e = dlerror();
        snprintf(blas.why, sizeof blas.why, "cannot load cuBLAS (%s): %s", CRVQ_CUBLAS_SONAME, e ? e : "not found");
        return 0;
    }
    blas.create = (create_fn)dlsym(blas.lib, "cublasCreate_v2");
    blas.destroy = (destroy_fn)dlsym(blas.lib, "cublasDestroy_v2");
    blas.math = (math_fn)dlsym(blas.lib, "cublasSetMathMode");
    blas.sgemm = (sgemm_fn)dlsym(blas.lib, "cublasSgemm_v2");
    blas.sgemm_strided = (sgemm_strided_fn)dlsym(blas.lib, "cublasSgemmStridedBatched");
    blas.dgemm = (dgemm_fn)dlsym(blas.lib, "cublasDgemm_v2");
    blas.dsyrk = (dsyrk_fn)dlsym(blas.lib, "cublasDsyrk_v2");
    blas.gemm_ex = (gemm_ex_fn)dlsym(blas.lib, "cublasGemmEx");
    if (!blas.create || !blas.destroy || !blas.math || !blas.sgemm || !blas.sgemm_strided || !blas.dgemm ||
        !blas.dsyrk || !blas.gemm_ex) {
        snprintf(blas.why, sizeof blas.why, "%s lacks the cuBLAS functions crvq needs", CRVQ_CUBLAS_SONAME);
        dlclose(blas.lib);
        blas.lib = NULL;
        return 0;
    }
    return 1;
}

int crvq_cuda_available(char *errbuf, size_t cap) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    const char *why = NULL;
    char buf[256];
    if (e == cudaErrorInsufficientDriver) {
        why = "no CUDA GPU found (no NVIDIA driver, or one too old for this CUDA runtime)";
    } else if (e != cudaSuccess) {
        snprintf(buf, sizeof buf, "no CUDA GPU found (%s)", cudaGetErrorString(e));
        why = buf;
    } else if (count < 1) {
        why = "no CUDA GPU found";
    } else if (!load_cublas()) {
        why = blas.why;
    }
    if (why && errbuf && cap) snprintf(errbuf, cap, "%s", why);
    return why == NULL;
}

crvq_status crvq_cu_check(int err, const char *what) {
    if (err == 0) {
        crvq_cu_profile_mark(what);
        return CRVQ_OK;
    }
    cudaError_t e = (cudaError_t)err;
    if (e == cudaErrorMemoryAllocation)
        return crvq_fail(CRVQ_ERR_NOMEM, "cuda: %s: out of GPU memory", what);
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

crvq_status crvq_cu_open(crvq_cu *cu) {
    memset(cu, 0, sizeof *cu);
    char why[256];
    if (!crvq_cuda_available(why, sizeof why)) return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: %s", why);
    crvq_status st = crvq_cu_check(cudaSetDevice(0), "selecting the GPU");
    if (st != CRVQ_OK) return st;
    cublasHandle_t h;
    if (blas.create(&h) != CUBLAS_STATUS_SUCCESS) return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cublasCreate failed");
    // FP32 products in FP32 arithmetic (cuBLAS's default mode; TF32 only
    // when asked for): TF32's 10-bit mantissa would cost the accuracy the
    // CPU comparison relies on.
    if (blas.math(h, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
        blas.destroy(h);
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cublasSetMathMode failed");
    }
    cu->blas = h;
    return CRVQ_OK;
}

void crvq_cu_close(crvq_cu *cu) {
    if (cu->blas) blas.destroy((cublasHandle_t)cu->blas);
    cu->blas = NULL;
}

static crvq_status gemm_status(cublasStatus_t s, const char *name, int m, int n, int k, int batch) {
    if (s == CUBLAS_STATUS_SUCCESS) {
        if (crvq_cu_profile_on()) { // a label per shape: the GEMMs of one op differ in size
            char what[64];
            snprintf(what, sizeof what, "%s %dx%dx%d x%d", name, m, n, k, batch);
            crvq_cu_profile_mark(what);
        }
        return CRVQ_OK;
    }
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: %s (%d x %d x %d) failed with status %d", name, m, n, k, (int)s);
}

crvq_status crvq_cu_sgemm(crvq_cu *cu, int m, int n, int k, const float *A, const float *B, float beta, float *C) {
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
    const float one = 1.0f;
    cublasStatus_t s = blas.sgemm((cublasHandle_t)cu->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, B, n, A, k,
                                  &beta, C, n);
    return gemm_status(s, "cublasSgemm", m, n, k, 1);
}

crvq_status crvq_cu_sgemm_strided(crvq_cu *cu, int ta, int tb, int m, int n, int k, float alpha, const float *A,
                                  int lda, long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                                  int ldc, long long sc, int batch) {
    // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a
    // row-major matrix is the column-major view of its transpose: the same
    // flags, the operands swapped.
    cublasStatus_t s = blas.sgemm_strided((cublasHandle_t)cu->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                          ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, B, ldb, sb, A, lda, sa,
                                          &beta, C, ldc, sc, batch);
    return gemm_status(s, "cublasSgemmStridedBatched", m, n, k, batch);
}

crvq_status crvq_cu_linear(crvq_cu *cu, const float *w, const float *bias, const float *x, int n, int n_out,
                           int n_in, float *y) {
    crvq_status st = crvq_cu_sgemm_strided(cu, 0, 1, n, n_out, n_in, 1.0f, x, n_in, 0, w, n_in, 0, 0.0f, y, n_out, 0, 1);
    if (st == CRVQ_OK && bias) st = crvq_cu_check(crvq_cu_add_bias(y, bias, n, n_out), "bias");
    return st;
}

crvq_status crvq_cu_gemv_f16(crvq_cu *cu, int m, int n, const uint16_t *A, const uint16_t *x, float *y) {
    // Row-major A (m, n) is column-major Aᵀ (n, m): y = (Aᵀ)ᵀ x, one column.
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = blas.gemm_ex((cublasHandle_t)cu->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, 1, n, &one, A, CUDA_R_16F,
                                    n, x, CUDA_R_16F, n, &zero, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
    return gemm_status(s, "cublasGemmEx (fp16)", m, 1, n, 1);
}

crvq_status crvq_cu_dgemm(crvq_cu *cu, int m, int n, int k, const double *A, const double *B, double *C) {
    const double one = 1.0, zero = 0.0;
    cublasStatus_t s = blas.dgemm((cublasHandle_t)cu->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, B, n, A, k,
                                  &zero, C, n);
    return gemm_status(s, "cublasDgemm", m, n, k, 1);
}

crvq_status crvq_cu_dsyrk_upper(crvq_cu *cu, int n, int k, const double *X, double *C) {
    // Row-major X (k, n) is column-major Xᵀ (n, k); the row-major upper
    // triangle of C is the column-major lower one.
    const double one = 1.0;
    cublasStatus_t s = blas.dsyrk((cublasHandle_t)cu->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k, &one, X, n,
                                  &one, C, n);
    return gemm_status(s, "cublasDsyrk", n, n, k, 1);
}

// cuSOLVER, loaded on first use like cuBLAS (its soname has its own version).
static crvq_status load_cusolver(void) {
    static const char *names[] = {"libcusolver.so.12", "libcusolver.so.11", "libcusolver.so",
                                  CRVQ_CUDA_LIBDIR "/libcusolver.so.12", CRVQ_CUDA_LIBDIR "/libcusolver.so"};
    if (!solver.tried) {
        solver.tried = 1;
        for (size_t i = 0; i < sizeof names / sizeof *names && !solver.lib; i++)
            solver.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (solver.lib) {
            solver.create = (sv_create_fn)dlsym(solver.lib, "cusolverDnCreate");
            solver.destroy = (sv_destroy_fn)dlsym(solver.lib, "cusolverDnDestroy");
            solver.potrf_size = (potrf_size_fn)dlsym(solver.lib, "cusolverDnDpotrf_bufferSize");
            solver.potrf = (potrf_fn)dlsym(solver.lib, "cusolverDnDpotrf");
            if (!solver.create || !solver.destroy || !solver.potrf_size || !solver.potrf) {
                dlclose(solver.lib);
                solver.lib = NULL;
            }
        }
    }
    return solver.lib ? CRVQ_OK : crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cannot load cuSOLVER (libcusolver.so.12)");
}

crvq_status crvq_cu_potrf_ok(double *A, int n, int *ok) {
    crvq_status st = load_cusolver();
    if (st != CRVQ_OK) return st;
    cusolverDnHandle_t h;
    if (solver.create(&h) != CUSOLVER_STATUS_SUCCESS)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cusolverDnCreate failed");
    int lwork = 0, info = 1, *dinfo = NULL;
    double *work = NULL;
    if (solver.potrf_size(h, CUBLAS_FILL_MODE_LOWER, n, A, n, &lwork) != CUSOLVER_STATUS_SUCCESS)
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cusolverDnDpotrf_bufferSize failed");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&work, (size_t)lwork * sizeof *work + sizeof(double), "Cholesky scratch");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&dinfo, sizeof *dinfo, "Cholesky status");
    if (st == CRVQ_OK &&
        solver.potrf(h, CUBLAS_FILL_MODE_LOWER, n, A, n, work, lwork, dinfo) != CUSOLVER_STATUS_SUCCESS)
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED, "cuda: cusolverDnDpotrf failed");
    if (st == CRVQ_OK) st = crvq_cu_download(&info, dinfo, sizeof info);
    *ok = st == CRVQ_OK && info == 0;
    crvq_cu_free(work);
    crvq_cu_free(dinfo);
    solver.destroy(h);
    return st;
}

crvq_status crvq_cu_alloc(void *p, size_t bytes, const char *what) {
    void **pp = p;
    *pp = NULL;
    if (bytes == 0) return CRVQ_OK;
    cudaError_t e = cudaMalloc(pp, bytes);
    if (e != cudaSuccess) {
        *pp = NULL;
        (void)cudaGetLastError(); // clear it: the failure is reported here
        return crvq_fail(CRVQ_ERR_NOMEM, "cuda: out of GPU memory for %s (%.1f MiB)", what, bytes / 1048576.0);
    }
    return CRVQ_OK;
}

void crvq_cu_free(void *p) {
    if (p) cudaFree(p);
}

crvq_status crvq_cu_upload(void *dst, const void *src, size_t bytes) {
    return bytes ? crvq_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to the GPU") : CRVQ_OK;
}

crvq_status crvq_cu_put(void *dst, const void *src, size_t bytes, const char *what) {
    void **d = dst;
    *d = NULL;
    if (!src || !bytes) return CRVQ_OK;
    crvq_status st = crvq_cu_alloc(d, bytes, what);
    return st == CRVQ_OK ? crvq_cu_upload(*d, src, bytes) : st;
}

crvq_status crvq_cu_download(void *dst, const void *src, size_t bytes) {
    return bytes ? crvq_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from the GPU") : CRVQ_OK;
}

crvq_status crvq_cu_copy(void *dst, const void *src, size_t bytes) {
    return bytes ? crvq_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy on the GPU") : CRVQ_OK;
}

crvq_status crvq_cu_zero(void *p, size_t bytes) {
    return bytes ? crvq_cu_check(cudaMemset(p, 0, bytes), "zeroing GPU memory") : CRVQ_OK;
}

crvq_status crvq_cu_sync(void) { return crvq_cu_check(cudaDeviceSynchronize(), "running kernels"); }

double crvq_cu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
