// cu_sort.cu — items grouped by code: cub's stable radix sort and the
// segment bounds (declarations: cu_kernels.h). Kept apart because cub's
// templates are the slowest part of the CUDA build to compile.
#include <cub/device/device_radix_sort.cuh>

#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

__global__ void extract_codes_kernel(const uint16_t *codes, size_t N, int stride, int off, uint16_t *keys,
                                     uint32_t *vals) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    keys[i] = codes[i * stride + off];
    vals[i] = (uint32_t)i;
}

int crvq_cu_extract_codes(const uint16_t *codes, size_t N, int stride, int off, uint16_t *keys, uint32_t *vals) {
    extract_codes_kernel<<<crvq_cu_blocks(N, 256), 256>>>(codes, N, stride, off, keys, vals);
    return crvq_cu_launched();
}

int crvq_cu_sort_pairs(void *tmp, size_t *tmp_bytes, const uint16_t *kin, uint16_t *kout, const uint32_t *vin,
                       uint32_t *vout, int N, int bits) {
    cudaError_t e = cub::DeviceRadixSort::SortPairs(tmp, *tmp_bytes, kin, kout, vin, vout, N, 0, bits);
    return e != cudaSuccess ? (int)e : crvq_cu_launched();
}

__global__ void segments_kernel(const uint16_t *sorted, int N, int *start, int *end) {
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= N) return;
    int key = sorted[p];
    if (p == 0 || sorted[p - 1] != key) start[key] = p;
    if (p == N - 1 || sorted[p + 1] != key) end[key] = p + 1;
}

int crvq_cu_segments(const uint16_t *sorted, int N, int K, int *start, int *end) {
    cudaError_t e = cudaMemsetAsync(start, 0, (size_t)K * sizeof *start);
    if (e == cudaSuccess) e = cudaMemsetAsync(end, 0, (size_t)K * sizeof *end);
    if (e != cudaSuccess) return (int)e;
    if (N > 0) segments_kernel<<<crvq_cu_blocks((size_t)N, 256), 256>>>(sorted, N, start, end);
    return crvq_cu_launched();
}
