// cu_common.cuh — helpers shared by the CUDA kernels (src/cuda/cu_*.cu).
#ifndef CRVQ_CU_COMMON_CUH
#define CRVQ_CU_COMMON_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/exp_nonpositive.h"

#define CRVQ_FULL_MASK 0xffffffffu

// Blocks of `threads` covering n items.
static inline unsigned crvq_cu_blocks(size_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

// The launch's error (0 if none).
static inline int crvq_cu_launched(void) { return (int)cudaGetLastError(); }

// Σ_w x over a warp, identical on every lane: a fixed butterfly.
__device__ inline double crvq_warp_sum(double x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(CRVQ_FULL_MASK, x, o);
    return x;
}

// Σ_{t<d} x_t with x_t held by lane t, added in t order (the CPU's order),
// identical on every lane.
__device__ inline double crvq_warp_seq_sum(double x, int d) {
    double s = 0;
    for (int t = 0; t < d; t++) s += __shfl_sync(CRVQ_FULL_MASK, x, t);
    return s;
}

// Σ over the block's threads of x, in a fixed order (warp butterflies, then
// the warps in order), on every thread. part: blockDim.x / 32 doubles.
__device__ inline double crvq_block_sum(double x, double *part) {
    x = crvq_warp_sum(x);
    int w = threadIdx.x / 32, nw = blockDim.x / 32;
    __syncthreads(); // part may still be read from a previous call
    if (threadIdx.x % 32 == 0) part[w] = x;
    __syncthreads();
    double s = 0;
    for (int i = 0; i < nw; i++) s += part[i];
    return s;
}

__device__ inline float crvq_block_max(float x, float *part) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(CRVQ_FULL_MASK, x, o));
    int w = threadIdx.x / 32, nw = blockDim.x / 32;
    __syncthreads();
    if (threadIdx.x % 32 == 0) part[w] = x;
    __syncthreads();
    float m = part[0];
    for (int i = 1; i < nw; i++) m = fmaxf(m, part[i]);
    return m;
}

// row[0..n) = softmax(row[0..n)) in place, by the whole block (ops.c
// crvq_softmax: float maximum, kernels/exp_nonpositive.h's exp, float64
// sum in a fixed tree, one float reciprocal). part, mpart: blockDim.x / 32
// each. Each thread writes the entries it reads: synchronise before other
// threads read them.
__device__ inline void crvq_block_softmax(float *row, int n, double *part, float *mpart) {
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x) mx = fmaxf(mx, row[j]);
    mx = crvq_block_max(mx, mpart);
    double sum = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float e = crvq_exp_nonpositive(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    sum = crvq_block_sum(sum, part);
    const float inv = (float)(1.0 / sum);
    for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] *= inv;
}

// Deterministic sums over segments of items: block j sums f(items[p], e)
// for p in [start[j], end[j]) and every entry e < E. The block has E·S
// threads; slice s takes p = start + s, start + s + S, ... in order, then
// the S slice sums are added in slice order. S = 1 adds in segment order.
template <class F>
__global__ void crvq_segment_sum_kernel(const int *start, const int *end, const uint32_t *items, int E, int S,
                                        F f, double *out) {
    extern __shared__ double part[]; // (S, E)
    int j = blockIdx.x, e = threadIdx.x % E, s = threadIdx.x / E;
    double acc = 0;
    for (int p = start[j] + s; p < end[j]; p += S) acc += f(items[p], e);
    part[threadIdx.x] = acc;
    __syncthreads();
    if (s == 0) {
        double tot = 0;
        for (int q = 0; q < S; q++) tot += part[q * E + e];
        out[(size_t)j * E + e] = tot;
    }
}

// Launch it over K segments: slices S = max(1, 256 / E) unless sequential.
template <class F>
static inline int crvq_segment_sum(const int *start, const int *end, const uint32_t *items, int K, int E,
                                   int sequential, F f, double *out) {
    int S = sequential || E >= 256 ? 1 : 256 / E;
    if (E * S > 1024) return (int)cudaErrorInvalidConfiguration;
    crvq_segment_sum_kernel<<<K, E * S, (size_t)E * S * sizeof(double)>>>(start, end, items, E, S, f, out);
    return crvq_cu_launched();
}

#endif
