// cu_linalg.cu — float64 helpers of the loss evaluation and the
// positive-definiteness test on the GPU (declarations: cu_kernels.h).
#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

__global__ void difference_kernel(size_t n, const float *A, const float *B, double *E) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) E[i] = (double)A[i] - (B ? (double)B[i] : 0.0);
}

int crvq_cu_difference(size_t n, const float *A, const float *B, double *E) {
    difference_kernel<<<crvq_cu_blocks(n, 256), 256>>>(n, A, B, E);
    return crvq_cu_launched();
}

__global__ void add_diagonal_kernel(int n, double shift, double *A) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) A[(size_t)j * n + j] += shift;
}

int crvq_cu_add_diagonal(int n, double shift, double *A) {
    add_diagonal_kernel<<<crvq_cu_blocks((size_t)n, 256), 256>>>(n, shift, A);
    return crvq_cu_launched();
}

__global__ void row_dots_f64_kernel(int m, int n, const double *X, const double *Y, double *out) {
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= m) return;
    double s = 0;
    for (int j = lane; j < n; j += 32) s += X[(size_t)r * n + j] * Y[(size_t)r * n + j];
    s = crvq_warp_sum(s);
    if (lane == 0) out[r] = s;
}

int crvq_cu_row_dots_f64(int m, int n, const double *X, const double *Y, double *out) {
    row_dots_f64_kernel<<<crvq_cu_blocks((size_t)m, 8), 256>>>(m, n, X, Y, out);
    return crvq_cu_launched();
}

__global__ void widen_kernel(size_t n, const float *X, double *Y) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) Y[i] = (double)X[i];
}

int crvq_cu_widen(size_t n, const float *X, double *Y) {
    widen_kernel<<<crvq_cu_blocks(n, 256), 256>>>(n, X, Y);
    return crvq_cu_launched();
}

// One thread per element; (i, j) with i <= j reads the upper triangle and
// writes both halves, so no element is read after another thread wrote it.
__global__ void mirror_scale_kernel(int n, double rows, double *H) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)n * n) return;
    int i = (int)(k / n), j = (int)(k % n);
    if (i > j) return;
    double v = H[k] / rows;
    H[k] = v;
    H[(size_t)j * n + i] = v;
}

int crvq_cu_mirror_scale(int n, double rows, double *H) {
    mirror_scale_kernel<<<crvq_cu_blocks((size_t)n * n, 256), 256>>>(n, rows, H);
    return crvq_cu_launched();
}
