// cu_kmeans.cu — k-means kernels: sample gathering, nearest-centroid
// assignment, centroid sums (declarations: cu_kernels.h).
#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

#define CRVQ_CU_MAX_POINT_D 64

__global__ void gather_points_kernel(const float *X, const uint32_t *idx, size_t nf, int d, float *Xs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= nf * d) return;
    size_t p = i / d, t = i % d;
    Xs[i] = X[(size_t)idx[p] * d + t];
}

int crvq_cu_gather_points(const float *X, const uint32_t *idx, size_t nf, int d, float *Xs) {
    gather_points_kernel<<<crvq_cu_blocks(nf * d, 256), 256>>>(X, idx, nf, d, Xs);
    return crvq_cu_launched();
}

// One thread per point, codewords in order with the scalar kernel's fmaf
// chain (kernels/vq_score.c crvq_vq_argmin_scalar); all threads of a warp
// read the same codeword (a broadcast). D > 0 fixes d at compile time, so
// that the query stays in registers.
template <int D>
__global__ void assign_kernel(const float *X, size_t n, int d_, const float *ct, const float *qn, int K,
                              uint16_t *assign, float *dist) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int d = D > 0 ? D : d_;
    float v[D > 0 ? D : CRVQ_CU_MAX_POINT_D];
    const float *x = X + i * d;
    float xx = 0;
#pragma unroll
    for (int t = 0; t < d; t++) {
        v[t] = -2.0f * x[t];
        xx += x[t] * x[t];
    }
    int arg = 0;
    float lo = 0;
    for (int j = 0; j < K; j++) {
        float s = qn[j];
#pragma unroll
        for (int t = 0; t < d; t++) s = fmaf(v[t], ct[(size_t)t * K + j], s);
        if (j == 0 || s < lo) {
            lo = s;
            arg = j;
        }
    }
    assign[i] = (uint16_t)arg;
    if (dist) dist[i] = fmaxf(lo + xx, 0.0f);
}

int crvq_cu_assign(const float *X, size_t n, int d, const float *ct, const float *qn, int K, uint16_t *assign,
                   float *dist) {
    if (d > CRVQ_CU_MAX_POINT_D) return (int)cudaErrorInvalidValue;
    if (d == 8)
        assign_kernel<8><<<crvq_cu_blocks(n, 128), 128>>>(X, n, d, ct, qn, K, assign, dist);
    else
        assign_kernel<0><<<crvq_cu_blocks(n, 128), 128>>>(X, n, d, ct, qn, K, assign, dist);
    return crvq_cu_launched();
}

struct point_value {
    const float *X;
    int d;
    __device__ double operator()(uint32_t i, int t) const { return X[(size_t)i * d + t]; }
};

int crvq_cu_segment_point_sums(const int *start, const int *end, const uint32_t *items, int K, int d,
                               const float *X, double *sum) {
    return crvq_segment_sum(start, end, items, K, d, 1, point_value{X, d}, sum);
}
