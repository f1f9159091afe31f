// cu_update.cu — kernels of the continuous step (scales, conjugate
// gradients on the codebooks) and the reconstruction they share with the
// loss (declarations and the CPU code each mirrors: cu_kernels.h).
#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"
#include "quant/vq_precond.h"

__global__ void gather_kernel(crvq_cu_layer L, const float *cb, float *U) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)L.m * L.n) return;
    size_t r = i / L.n;
    int j = (int)(i % L.n), g = j / L.d, t = j % L.d;
    float x = cb[L.off[0] + (size_t)L.codes[r * L.ng + g] * L.d + t];
    if (g < L.nc)
        for (int k = 1; k < L.M; k++)
            x += cb[L.off[k] + (size_t)L.codes_ext[(r * L.nc + g) * (L.M - 1) + (k - 1)] * L.d + t];
    U[i] = x;
}

int crvq_cu_gather(const crvq_cu_layer *L, const float *cb, float *U) {
    gather_kernel<<<crvq_cu_blocks((size_t)L->m * L->n, 256), 256>>>(*L, cb, U);
    return crvq_cu_launched();
}

// One warp a row.
__global__ void row_dots_kernel(int m, int n, const float *U, const float *X, const float *Y, double *ox,
                                double *oy) {
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= m) return;
    const float *u = U + (size_t)r * n, *x = X + (size_t)r * n, *y = Y ? Y + (size_t)r * n : NULL;
    double sx = 0, sy = 0;
    for (int j = lane; j < n; j += 32) {
        sx += (double)u[j] * x[j];
        if (y) sy += (double)u[j] * y[j];
    }
    sx = crvq_warp_sum(sx);
    sy = crvq_warp_sum(sy);
    if (lane == 0) {
        ox[r] = sx;
        if (oy) oy[r] = sy;
    }
}

int crvq_cu_row_dots(int m, int n, const float *U, const float *X, const float *Y, double *ox, double *oy) {
    row_dots_kernel<<<crvq_cu_blocks((size_t)m, 8), 256>>>(m, n, U, X, Y, ox, oy);
    return crvq_cu_launched();
}

__global__ void axpy_kernel(size_t n, float a, const float *x, float *y) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}

int crvq_cu_axpy(size_t n, float a, const float *x, float *y) {
    axpy_kernel<<<crvq_cu_blocks(n, 256), 256>>>(n, a, x, y);
    return crvq_cu_launched();
}

__global__ void codebook_step_kernel(size_t n, double alpha, const double *D, float *C, float *Df) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    if (C) C[i] = (float)(C[i] + alpha * D[i]);
    if (Df) Df[i] = (float)D[i];
}

int crvq_cu_codebook_step(size_t n, double alpha, const double *D, float *C, float *Df) {
    codebook_step_kernel<<<crvq_cu_blocks(n, 256), 256>>>(n, alpha, D, C, Df);
    return crvq_cu_launched();
}

__global__ void cg_direction_kernel(size_t n, const double *z, double beta, double *D) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) D[i] = -z[i] + beta * D[i];
}

int crvq_cu_cg_direction(size_t n, const double *z, double beta, double *D) {
    cg_direction_kernel<<<crvq_cu_blocks(n, 256), 256>>>(n, z, beta, D);
    return crvq_cu_launched();
}

// One thread, index order: the vectors have M·2^e·d entries (8192 at the
// defaults), a few microseconds.
__global__ void dot_kernel(size_t n, const double *a, const double *b, double *out) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    *out = s;
}

int crvq_cu_dot(size_t n, const double *a, const double *b, double *tmp, double *host) {
    dot_kernel<<<1, 1>>>(n, a, b, tmp);
    int e = crvq_cu_launched();
    if (e) return e;
    return (int)cudaMemcpy(host, tmp, sizeof *host, cudaMemcpyDeviceToHost);
}

struct gradient_value {
    int ngk, d, n;
    const float *scales, *WH, *V;
    __device__ double operator()(uint32_t i, int t) const {
        size_t r = i / ngk, c = (size_t)(i % ngk) * d + t;
        double s = scales[r];
        if (s == 0) return 0;
        return -(2.0 * s * ((double)WH[r * n + c] - s * V[r * n + c]));
    }
};

int crvq_cu_segment_gradient(const int *start, const int *end, const uint32_t *items, int K, int ngk, int d, int n,
                             const float *scales, const float *WH, const float *V, double *grad) {
    return crvq_segment_sum(start, end, items, K, d, 0, gradient_value{ngk, d, n, scales, WH, V}, grad);
}

struct precond_value {
    int ngk, d;
    const float *scales;
    const double *Hgg;
    __device__ double operator()(uint32_t i, int e) const {
        size_t r = i / ngk, g = i % ngk;
        double s2 = 2.0 * (double)scales[r] * scales[r];
        if (s2 == 0) return 0;
        return s2 * Hgg[g * d * d + e];
    }
};

int crvq_cu_segment_precond(const int *start, const int *end, const uint32_t *items, int K, int ngk, int d,
                            const float *scales, const double *Hgg, double *P) {
    return crvq_segment_sum(start, end, items, K, d * d, 0, precond_value{ngk, d, scales, Hgg}, P);
}

__global__ void precond_factor_kernel(size_t nb, int d, double *P, unsigned char *kind) {
    size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b < nb) kind[b] = crvq_precond_factor(P + b * d * d, d);
}

int crvq_cu_precond_factor(size_t nb, int d, double *P, unsigned char *kind) {
    precond_factor_kernel<<<crvq_cu_blocks(nb, 128), 128>>>(nb, d, P, kind);
    return crvq_cu_launched();
}

__global__ void precond_apply_kernel(size_t nb, int d, const double *P, const unsigned char *kind, const double *g,
                                     double *z) {
    size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b < nb) crvq_precond_solve(P + b * d * d, kind[b], d, g + b * d, z + b * d);
}

int crvq_cu_precond_apply(size_t nb, int d, const double *P, const unsigned char *kind, const double *g,
                          double *z) {
    precond_apply_kernel<<<crvq_cu_blocks(nb, 128), 128>>>(nb, d, P, kind, g, z);
    return crvq_cu_launched();
}
