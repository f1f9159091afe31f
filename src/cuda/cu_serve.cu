// cu_serve.cu — the serving kernels (declarations and conventions:
// cu_serve.h): products straight from the stored codes for one token, the
// expansion of a tile of rows for batched products (cuBLAS SGEMM then
// multiplies, cuda_serve_linear.c), and attention over the KV cache.
#include <cuda_fp16.h>

#include "cuda/cu_common.cuh"
#include "cuda/cu_serve.h"

#define WARPS_PER_BLOCK 8
#define ATTN_THREADS 128

__device__ static inline float warp_sum_f(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(CRVQ_FULL_MASK, x, o);
    return x;
}

__device__ static inline unsigned code_of(const void *codes, int wide, size_t i) {
    return wide ? ((const uint16_t *)codes)[i] : ((const uint8_t *)codes)[i];
}

// A bf16 (else fp16) value, widened exactly.
__device__ static inline float h16(uint16_t h, int bf16) {
    return bf16 ? __uint_as_float((unsigned)h << 16) : __half2float(__ushort_as_half(h));
}

// ------------------------------------------------------------------ VQ ---
//
// One token, y = Ŵ x, computed from the codes: every weight group is looked
// up in its codebook and dotted with the token's inputs, in registers (the
// way AQLM's GPU kernels run). The per-token tables of the CPU (vq_lut.c)
// do not suit a GPU: a 4096 x 4096 layer's tables are 512 KiB, while each
// of 132 SMs sums only 16k of its groups, so building or reading the tables
// costs more than the sums they save. The codebooks are the stored fp16
// values (exact: crvq_vq_weights keeps no other), and C0, 4 KiB at CRVQ's
// defaults, sits in shared memory; a look-up there is one 16-byte load.

#define VQ_ROWS_PER_WARP 2    // rows a warp sums together, sharing the input loads
#define VQ_DEPTH 8            // steps of 32 groups whose codes and inputs a lane loads before using any
#define VQ_SMEM_MAX 49152     // the fast path copies C0 to shared memory up to this size (no opt-in)

static int quads_of(int d) { return (d + 3) / 4; }

size_t crvq_cu_vq_xq_floats(const crvq_cu_vq *W) { return (size_t)4 * quads_of(W->d) * W->ng; }

// xq[q·ng + g] (float4) = x[perm[g·d + 4q .. 4q + 3]], zero past d: quad q
// of group g, so the lanes of a warp, taking consecutive groups, read
// consecutive 16 bytes.
__global__ void vq_stage_kernel(const float *x, const int32_t *perm, int d, int ng, int nq, float4 *xq) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)nq * ng) return;
    const int q = (int)(id / ng), g = (int)(id % ng);
    float v[4];
    for (int i = 0; i < 4; i++) {
        const int t = 4 * q + i, j = g * d + t;
        v[i] = t < d ? x[perm ? perm[j] : j] : 0.0f;
    }
    xq[id] = make_float4(v[0], v[1], v[2], v[3]);
}

// A group's staged inputs: D / 4 quads held in registers (D 4 or 8, the
// shapes that have a fast path), or read per use (D 0: any d).
template <int D> struct group_x {
    float4 v[D > 0 ? D / 4 : 1];
    const float4 *p;
    __device__ inline void load(const float4 *xq, int g, int ng) {
        p = xq + g;
        if constexpr (D > 0)
            for (int q = 0; q < D / 4; q++) v[q] = p[(size_t)q * ng];
    }
};

__device__ static inline float dot4(float s, float4 x, float2 a, float2 b) {
    s += a.x * x.x, s += a.y * x.y, s += b.x * x.z, s += b.y * x.w;
    return s;
}

// Σ_t cw[t]·x[t], t ascending from 0 (vq_lut.c table_scalar's order; the
// zero padding past d adds nothing). cw: d fp16 values, 8·D/4-byte aligned.
template <int D> __device__ static inline float group_dot(const uint16_t *cw, const group_x<D> &x, int d, int ng) {
    float s = 0.0f;
    if constexpr (D == 8) {
        const uint4 h = *(const uint4 *)cw;
        const __half2 *p = (const __half2 *)&h;
        s = dot4(s, x.v[0], __half22float2(p[0]), __half22float2(p[1]));
        s = dot4(s, x.v[1], __half22float2(p[2]), __half22float2(p[3]));
    } else if constexpr (D == 4) {
        const uint2 h = *(const uint2 *)cw;
        const __half2 *p = (const __half2 *)&h;
        s = dot4(s, x.v[0], __half22float2(p[0]), __half22float2(p[1]));
    } else {
        for (int q = 0; q * 4 < d; q++) {
            const float4 v = x.p[(size_t)q * ng];
            const float xs[4] = {v.x, v.y, v.z, v.w};
            for (int i = 0; i < 4 && 4 * q + i < d; i++) s += h16(cw[4 * q + i], 0) * xs[i];
        }
    }
    return s;
}

// Warp w of the block sums rows r0 .. r0 + VQ_ROWS_PER_WARP − 1; lane l
// takes groups l, l + 32, ... of each (one warp load covers 32 consecutive
// codes of a row), then the critical groups' extended codes (few, their
// codebooks read through L1). y[r] = scales[r]·(the warp's butterfly sum).
// The codes and inputs of VQ_DEPTH steps are loaded before the first is
// used: with one step in flight a warp waited a DRAM or L2 latency per 32
// codes, and the kernel ran at 100-150 GB/s (bench/results/cuda.md).
// D 8 or 4 is the fast path: d = D, uint8 codes, C0 (a whole number of
// 16-byte units) copied to shared memory and read there. D 0 takes any layer: d and the code width read at
// run time, C0 read through L1. The fast path's choices are compile-time
// because a pointer that may point into either memory compiles to generic
// loads, which made the kernel 1.8x slower (16.9 against 9.3 us at
// 4096 x 4096 on an H100).
template <int D>
__global__ void __launch_bounds__(32 * WARPS_PER_BLOCK, 2) vq_gemv_kernel(crvq_cu_vq W, const float4 *xq, float *y) {
    extern __shared__ uint4 vq_smem[];
    const uint16_t *cb0 = W.cb[0];
    const int d = D > 0 ? D : W.d;
    if constexpr (D > 0) {
        for (int i = threadIdx.x; i < W.K[0] * D / 8; i += blockDim.x) vq_smem[i] = ((const uint4 *)cb0)[i];
        __syncthreads();
    }
    const int lane = threadIdx.x % 32;
    const int r0 = (blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32) * VQ_ROWS_PER_WARP;
    if (r0 >= W.m) return;
    const int nr = W.m - r0 < VQ_ROWS_PER_WARP ? W.m - r0 : VQ_ROWS_PER_WARP;
    float acc[VQ_ROWS_PER_WARP] = {0.0f};
    group_x<D> x[VQ_DEPTH];
    for (int g0 = lane; g0 < W.ng; g0 += 32 * VQ_DEPTH) {
        unsigned c[VQ_DEPTH][VQ_ROWS_PER_WARP];
#pragma unroll
        for (int u = 0; u < VQ_DEPTH; u++)
#pragma unroll
            for (int i = 0; i < VQ_ROWS_PER_WARP; i++) {
                const int g = g0 + 32 * u;
                const size_t at = (size_t)(r0 + i) * W.ng + g;
                c[u][i] = g >= W.ng || i >= nr ? 0
                          : D > 0              ? ((const uint8_t *)W.codes)[at]
                                               : code_of(W.codes, W.wide0, at);
            }
#pragma unroll
        for (int u = 0; u < VQ_DEPTH; u++)
            if (g0 + 32 * u < W.ng) x[u].load(xq, g0 + 32 * u, W.ng);
#pragma unroll
        for (int u = 0; u < VQ_DEPTH; u++) {
            const int g = g0 + 32 * u;
            if (g >= W.ng) break;
#pragma unroll
            for (int i = 0; i < VQ_ROWS_PER_WARP; i++)
                if (i < nr) {
                    const size_t at = (size_t)c[u][i] * d;
                    acc[i] += group_dot<D>(D > 0 ? (const uint16_t *)vq_smem + at : cb0 + at, x[u], d, W.ng);
                }
        }
    }
    if (W.nc > 0 && W.M > 1) {
        const int per = W.M - 1, n_ext = W.nc * per;
        for (int e = lane; e < n_ext; e += 32) {
            const int g = e / per, k = 1 + e % per;
            x[0].load(xq, g, W.ng);
            for (int i = 0; i < VQ_ROWS_PER_WARP; i++)
                if (i < nr) {
                    const unsigned c = code_of(W.ext, W.wide_x, (size_t)(r0 + i) * n_ext + e);
                    acc[i] += group_dot<D>(W.cb[k] + (size_t)c * d, x[0], d, W.ng);
                }
        }
    }
    for (int i = 0; i < VQ_ROWS_PER_WARP; i++) {
        const float s = warp_sum_f(acc[i]);
        if (lane == 0 && i < nr) y[r0 + i] = W.scales[r0 + i] * s;
    }
}

int crvq_cu_vq_gemv(const crvq_cu_vq *W, const float *x, float *xq, float *y) {
    const int nq = quads_of(W->d);
    const size_t n_xq = (size_t)nq * W->ng;
    vq_stage_kernel<<<crvq_cu_blocks(n_xq, 256), 256>>>(x, W->perm, W->d, W->ng, nq, (float4 *)xq);
    int e = crvq_cu_launched();
    if (e) return e;
    const size_t cb0_bytes = (size_t)W->K[0] * W->d * sizeof(uint16_t);
    const unsigned blocks = crvq_cu_blocks((size_t)W->m, WARPS_PER_BLOCK * VQ_ROWS_PER_WARP);
    const float4 *q4 = (const float4 *)xq;
    const int threads = 32 * WARPS_PER_BLOCK,
              fast = !W->wide0 && cb0_bytes <= VQ_SMEM_MAX && cb0_bytes % sizeof(uint4) == 0;
    if (fast && W->d == 8) vq_gemv_kernel<8><<<blocks, threads, cb0_bytes>>>(*W, q4, y);
    else if (fast && W->d == 4) vq_gemv_kernel<4><<<blocks, threads, cb0_bytes>>>(*W, q4, y);
    else vq_gemv_kernel<0><<<blocks, threads>>>(*W, q4, y);
    return crvq_cu_launched();
}

// One thread per weight of rows [r0, r0 + rows), permuted order.
__global__ void vq_expand_kernel(crvq_cu_vq W, int r0, int rows, float *w) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)rows * W.n) return;
    int r = r0 + (int)(id / W.n), j = (int)(id % W.n), g = j / W.d, t = j % W.d;
    float v = h16(W.cb[0][(size_t)code_of(W.codes, W.wide0, (size_t)r * W.ng + g) * W.d + t], 0);
    if (g < W.nc)
        for (int k = 1; k < W.M; k++)
            v += h16(W.cb[k][(size_t)code_of(W.ext, W.wide_x, ((size_t)r * W.nc + g) * (W.M - 1) + k - 1) * W.d + t], 0);
    w[id] = W.scales[r] * v;
}

int crvq_cu_vq_expand_tile(const crvq_cu_vq *W, int r0, int rows, float *w) {
    size_t n = (size_t)rows * W->n;
    if (n == 0) return 0;
    vq_expand_kernel<<<crvq_cu_blocks(n, 256), 256>>>(*W, r0, rows, w);
    return crvq_cu_launched();
}

__global__ void permute_rows_kernel(const float *x, int rows, int n, const int32_t *perm, float *xp) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)rows * n) return;
    size_t i = id / n;
    xp[id] = x[i * n + perm[id % n]];
}

int crvq_cu_permute_rows(const float *x, int rows, int n, const int32_t *perm, float *xp) {
    size_t len = (size_t)rows * n;
    if (len == 0) return 0;
    permute_rows_kernel<<<crvq_cu_blocks(len, 256), 256>>>(x, rows, n, perm, xp);
    return crvq_cu_launched();
}

// -------------------------------------------------------------- scalar ---

// Code c of a packed row (sq_kernels.c code_at): at most two bytes for <= 8 bits.
__device__ static inline unsigned sq_code(const uint8_t *row, size_t row_bytes, int bits, int c) {
    size_t bit = (size_t)c * bits, b = bit >> 3;
    unsigned sh = (unsigned)(bit & 7), v = row[b];
    if (sh + bits > 8 && b + 1 < row_bytes) v |= (unsigned)row[b + 1] << 8;
    return (v >> sh) & ((1u << bits) - 1u);
}

// One warp per row; lane l takes columns l, l + 32, ... and keeps, per
// group, Σ q x and Σ x, folded in as scale·(Σ q x − zero·Σ x) when the
// group ends (groups of gs ≥ 32 columns; any gs works, a lane then adds
// several partial groups).
__global__ void sq_gemv_kernel(crvq_cu_sq W, const float *x, float *y) {
    int r = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= W.m) return;
    const uint8_t *row = W.q + (size_t)r * W.row_bytes;
    const float *sc = W.scale + (size_t)r * W.n_gr, *ze = W.zero + (size_t)r * W.n_gr;
    float acc = 0.0f, sqx = 0.0f, sx = 0.0f;
    int g_cur = -1;
    for (int c = lane; c < W.n; c += 32) {
        int g = c / W.gs;
        if (g != g_cur) {
            if (g_cur >= 0) acc += sc[g_cur] * (sqx - ze[g_cur] * sx);
            g_cur = g, sqx = 0.0f, sx = 0.0f;
        }
        float xc = x[c];
        sqx += (float)sq_code(row, W.row_bytes, W.bits, c) * xc;
        sx += xc;
    }
    if (g_cur >= 0) acc += sc[g_cur] * (sqx - ze[g_cur] * sx);
    acc = warp_sum_f(acc);
    if (lane == 0) y[r] = acc;
}

int crvq_cu_sq_gemv(const crvq_cu_sq *W, const float *x, float *y) {
    sq_gemv_kernel<<<crvq_cu_blocks((size_t)W->m, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK>>>(*W, x, y);
    return crvq_cu_launched();
}

__global__ void sq_expand_kernel(crvq_cu_sq W, int r0, int rows, float *w) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)rows * W.n) return;
    int r = r0 + (int)(id / W.n), c = (int)(id % W.n), g = c / W.gs;
    const uint8_t *row = W.q + (size_t)r * W.row_bytes;
    size_t sg = (size_t)r * W.n_gr + g;
    w[id] = W.scale[sg] * ((float)sq_code(row, W.row_bytes, W.bits, c) - W.zero[sg]);
}

int crvq_cu_sq_expand(const crvq_cu_sq *W, int r0, int rows, float *w) {
    size_t n = (size_t)rows * W->n;
    if (n == 0) return 0;
    sq_expand_kernel<<<crvq_cu_blocks(n, 256), 256>>>(*W, r0, rows, w);
    return crvq_cu_launched();
}

// ------------------------------------------------------- 16-bit dense ---

// One warp per row. Rows whose length is a multiple of 8 (and an input
// 16-byte aligned) are read 16 bytes (8 values) per lane and load, four
// loads issued before any is used, so a warp keeps 2 KiB of the row in
// flight (one load at a time left the head at half of cuBLAS's bandwidth);
// the rest one value at a time.
#define H16_DEPTH 4
__global__ void h16_gemv_kernel(const uint16_t *W, int bf16, int m, int n, const float *x, float *y) {
    int r = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= m) return;
    const uint16_t *row = W + (size_t)r * n;
    float acc = 0.0f;
    if (n % 8 == 0 && ((uintptr_t)x & 15) == 0) {
        const uint4 *row8 = (const uint4 *)row;
        const float4 *x4 = (const float4 *)x;
        const int n8 = n / 8;
        for (int i0 = lane; i0 < n8; i0 += 32 * H16_DEPTH) {
            uint4 v[H16_DEPTH];
#pragma unroll
            for (int u = 0; u < H16_DEPTH; u++)
                if (i0 + 32 * u < n8) v[u] = row8[i0 + 32 * u];
#pragma unroll
            for (int u = 0; u < H16_DEPTH; u++) {
                const int i = i0 + 32 * u;
                if (i >= n8) break;
                const uint16_t *h = (const uint16_t *)&v[u];
                const float4 a = x4[2 * i], b = x4[2 * i + 1];
                const float xi[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
                for (int t = 0; t < 8; t++) acc += h16(h[t], bf16) * xi[t];
            }
        }
    } else {
        for (int c = lane; c < n; c += 32) acc += h16(row[c], bf16) * x[c];
    }
    acc = warp_sum_f(acc);
    if (lane == 0) y[r] = acc;
}

int crvq_cu_h16_gemv(const uint16_t *W, int bf16, int m, int n, const float *x, float *y) {
    h16_gemv_kernel<<<crvq_cu_blocks((size_t)m, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK>>>(W, bf16, m, n, x, y);
    return crvq_cu_launched();
}

__global__ void h16_expand_kernel(const uint16_t *W, int bf16, size_t len, float *w) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id < len) w[id] = h16(W[id], bf16);
}

int crvq_cu_h16_expand(const uint16_t *W, int bf16, int n, int r0, int rows, float *w) {
    size_t len = (size_t)rows * n;
    if (len == 0) return 0;
    h16_expand_kernel<<<crvq_cu_blocks(len, 256), 256>>>(W + (size_t)r0 * n, bf16, len, w);
    return crvq_cu_launched();
}

// ----------------------------------------------------------- attention ---

// The shared memory a block may take (the default 48 KiB, raised once to
// the device's opt-in limit).
static int attn_smem_bytes(void) {
    static int bytes = 0;
    if (!bytes) {
        int dev = 0, opt = 0;
        cudaGetDevice(&dev);
        if (cudaDeviceGetAttribute(&opt, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess || opt < 49152)
            opt = 49152;
        bytes = opt - 1024; // room for the reduction scratch
    }
    return bytes;
}

int crvq_cu_attn_max_keys(void) { return attn_smem_bytes() / (int)sizeof(float); }

// Block (i, h): scores of keys 0..pos+i (warp w takes keys w, w + nwarps,
// ...; its lanes split the head's coordinates), the softmax in place, then
// thread t sums P·V for coordinates t, t + blockDim, ...
__global__ void attn_cached_kernel(const float *q, const float *kc, const float *vc, int pos, int n_heads,
                                   int n_kv, int hd, float *out) {
    extern __shared__ float sc[];
    __shared__ double part[ATTN_THREADS / 32];
    __shared__ float mpart[ATTN_THREADS / 32];
    const int i = blockIdx.x / n_heads, h = blockIdx.x % n_heads, kvh = h / (n_heads / n_kv);
    const int T = pos + i + 1, qd = n_heads * hd, kvd = n_kv * hd;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    const float *qh = q + (size_t)i * qd + (size_t)h * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int j = w; j < T; j += nw) {
        const float *kj = kc + (size_t)j * kvd + (size_t)kvh * hd;
        float s = 0.0f;
        for (int t = lane; t < hd; t += 32) s += qh[t] * kj[t];
        s = warp_sum_f(s);
        if (lane == 0) sc[j] = s * scale;
    }
    __syncthreads();
    crvq_block_softmax(sc, T, part, mpart);
    __syncthreads();
    float *oh = out + (size_t)i * qd + (size_t)h * hd;
    for (int t = threadIdx.x; t < hd; t += blockDim.x) {
        const float *vt = vc + (size_t)kvh * hd + t;
        float acc = 0.0f;
        // volatile: the compiler's own loads of sc here were reported by
        // compute-sanitizer's memcheck as 12-byte shared reads out of bounds
        // (test_cuda_serve, H100, 2026-12-07); one 4-byte load per key is
        // clean, and the keys' V rows, not these loads, bound the loop
        const volatile float *scv = sc;
        for (int j = 0; j < T; j++) acc += scv[j] * vt[(size_t)j * kvd];
        oh[t] = acc;
    }
}

int crvq_cu_attn_cached(const float *q, const float *kc, const float *vc, int n, int pos, int n_heads, int n_kv,
                        int hd, float *out) {
    if (n < 1) return 0;
    size_t smem = (size_t)(pos + n) * sizeof(float);
    if (smem > (size_t)attn_smem_bytes()) return (int)cudaErrorInvalidValue;
    if (smem > 49152) {
        cudaError_t e = cudaFuncSetAttribute(attn_cached_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             attn_smem_bytes());
        if (e != cudaSuccess) return (int)e;
    }
    attn_cached_kernel<<<(unsigned)n * n_heads, ATTN_THREADS, smem>>>(q, kc, vc, pos, n_heads, n_kv, hd, out);
    return crvq_cu_launched();
}
