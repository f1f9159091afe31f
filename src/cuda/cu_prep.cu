// cu_prep.cu — preparation kernels of the GPU quantizer: permuted copies,
// the diagonal blocks of H, row scales, channel importance, residuals
// (declarations and the CPU code each mirrors: cu_kernels.h).
#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

__global__ void permute_cols_kernel(const float *W, int m, int n, const int32_t *perm, float *Wp) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)m * n) return;
    size_t r = i / n, j = i % n;
    Wp[i] = W[r * n + perm[j]];
}

int crvq_cu_permute_cols(const float *W, int m, int n, const int32_t *perm, float *Wp) {
    permute_cols_kernel<<<crvq_cu_blocks((size_t)m * n, 256), 256>>>(W, m, n, perm, Wp);
    return crvq_cu_launched();
}

__global__ void h_to_f32_kernel(const double *H, int n, const int32_t *perm, float *Hf) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)n * n) return;
    size_t a = i / n, b = i % n;
    if (perm) {
        a = (size_t)perm[a];
        b = (size_t)perm[b];
    }
    Hf[i] = (float)H[a * n + b];
}

int crvq_cu_h_to_f32(const double *H, int n, const int32_t *perm, float *Hf) {
    h_to_f32_kernel<<<crvq_cu_blocks((size_t)n * n, 256), 256>>>(H, n, perm, Hf);
    return crvq_cu_launched();
}

__global__ void hgg_kernel(const float *Hf, int n, int d, double *Hgg) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, dd = (size_t)d * d;
    if (i >= (size_t)(n / d) * dd) return;
    size_t g = i / dd, a = i % dd / d, b = i % d;
    Hgg[i] = Hf[(g * d + a) * n + g * d + b];
}

int crvq_cu_hgg(const float *Hf, int n, int d, double *Hgg) {
    hgg_kernel<<<crvq_cu_blocks((size_t)(n / d) * d * d, 256), 256>>>(Hf, n, d, Hgg);
    return crvq_cu_launched();
}

// One thread per row, summing in column order like the CPU (the scales,
// and so the k-means input, are the CPU's bits).
__global__ void scale_rows_kernel(const float *W, int m, int n, float *scales, float *X) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= m) return;
    const float *w = W + (size_t)r * n;
    double ss = 0;
    for (int j = 0; j < n; j++) ss += (double)w[j] * w[j];
    float s = (float)sqrt(ss);
    scales[r] = s;
    double inv = ss > 0 ? 1.0 / s : 0.0;
    for (int j = 0; j < n; j++) X[(size_t)r * n + j] = (float)(w[j] * inv);
}

int crvq_cu_scale_rows(const float *W, int m, int n, float *scales, float *X) {
    scale_rows_kernel<<<crvq_cu_blocks((size_t)m, 64), 64>>>(W, m, n, scales, X);
    return crvq_cu_launched();
}

// One thread per column, rows in order (consecutive threads read
// consecutive columns).
__global__ void column_means_kernel(const float *W, int m, int n, int d, const float *C, const uint16_t *assign,
                                    double *imp) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    double acc = 0;
    for (int r = 0; r < m; r++) {
        double w = W[(size_t)r * n + j];
        if (C) {
            size_t vec = ((size_t)r * n + j) / d;
            double e = w - C[(size_t)assign[vec] * d + j % d];
            acc += e * e;
        } else {
            acc += fabs(w);
        }
    }
    imp[j] = acc / m;
}

int crvq_cu_column_means(const float *W, int m, int n, int d, const float *C, const uint16_t *assign,
                         double *imp) {
    column_means_kernel<<<crvq_cu_blocks((size_t)n, 128), 128>>>(W, m, n, d, C, assign, imp);
    return crvq_cu_launched();
}

__global__ void residual_init_kernel(const float *X, int m, int n, int d, int nc, const float *C0,
                                     const uint16_t *codes, float *R) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, per_row = (size_t)nc * d;
    if (i >= (size_t)m * per_row) return;
    size_t r = i / per_row, c = i % per_row, g = c / d, t = c % d;
    R[i] = X[r * n + c] - C0[(size_t)codes[r * (n / d) + g] * d + t];
}

int crvq_cu_residual_init(const float *X, int m, int n, int d, int nc, const float *C0, const uint16_t *codes,
                          float *R) {
    residual_init_kernel<<<crvq_cu_blocks((size_t)m * nc * d, 256), 256>>>(X, m, n, d, nc, C0, codes, R);
    return crvq_cu_launched();
}

__global__ void residual_step_kernel(float *R, size_t N, int d, const float *Ck, const uint16_t *a,
                                     uint16_t *codes_ext, int M, int k) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    codes_ext[i * (M - 1) + (k - 1)] = a[i];
    for (int t = 0; t < d; t++) R[i * d + t] -= Ck[(size_t)a[i] * d + t];
}

int crvq_cu_residual_step(float *R, size_t N, int d, const float *Ck, const uint16_t *a, uint16_t *codes_ext,
                          int M, int k) {
    residual_step_kernel<<<crvq_cu_blocks(N, 256), 256>>>(R, N, d, Ck, a, codes_ext, M, k);
    return crvq_cu_launched();
}
