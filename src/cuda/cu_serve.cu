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

// ------------------------------------------------------------------ VQ ---

static int groups_of(const crvq_cu_vq *W, int k) { return k == 0 ? W->ng : W->nc; }

size_t crvq_cu_vq_lut_floats(const crvq_cu_vq *W) {
    size_t n = 0;
    for (int k = 0; k < W->M; k++) n += (size_t)groups_of(W, k) * W->K[k];
    return n;
}

// tab[g·K + c] = Σ_t cb[c·d + t]·x[perm[g·d + t]] for g < ng (vq_lut.c
// table_scalar: t ascending, one float accumulator).
__global__ void vq_lut_kernel(const float *x, const int32_t *perm, const float *cb, int K, int d, int ng,
                              float *tab) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)ng * K) return;
    int g = (int)(id / K), c = (int)(id % K);
    const float *w = cb + (size_t)c * d;
    float s = 0.0f;
    for (int t = 0; t < d; t++) {
        int j = g * d + t;
        s += x[perm ? perm[j] : j] * w[t];
    }
    tab[id] = s;
}

// One warp per row r: y[r] = scales[r]·(Σ_g tab0[g, code] + Σ_{g<nc,k} tabk[g, ext]).
// Lane l takes groups l, l + 32, ...: one warp load covers 32 consecutive codes.
__global__ void vq_gemv_kernel(crvq_cu_vq W, const float *lut, float *y) {
    int r = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= W.m) return;
    float acc = 0.0f;
    const size_t row0 = (size_t)r * W.ng;
    for (int g = lane; g < W.ng; g += 32) acc += lut[(size_t)g * W.K[0] + code_of(W.codes, W.wide0, row0 + g)];
    if (W.nc > 0 && W.M > 1) {
        const int per = W.M - 1, n_ext = W.nc * per;
        const size_t rowx = (size_t)r * n_ext;
        size_t base[CRVQ_MAX_CODEBOOKS];
        base[1] = (size_t)W.ng * W.K[0];
        for (int k = 2; k < W.M; k++) base[k] = base[k - 1] + (size_t)W.nc * W.K[k - 1];
        for (int i = lane; i < n_ext; i += 32) {
            int g = i / per, k = 1 + i % per;
            acc += lut[base[k] + (size_t)g * W.K[k] + code_of(W.ext, W.wide_x, rowx + i)];
        }
    }
    acc = warp_sum_f(acc);
    if (lane == 0) y[r] = W.scales[r] * acc;
}

int crvq_cu_vq_gemv(const crvq_cu_vq *W, const float *x, float *lut, float *y) {
    float *tab = lut;
    for (int k = 0; k < W->M; k++) {
        size_t n = (size_t)groups_of(W, k) * W->K[k];
        if (n == 0) continue;
        vq_lut_kernel<<<crvq_cu_blocks(n, 256), 256>>>(x, W->perm, W->cb[k], W->K[k], W->d, groups_of(W, k), tab);
        int e = crvq_cu_launched();
        if (e) return e;
        tab += n;
    }
    vq_gemv_kernel<<<crvq_cu_blocks((size_t)W->m, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK>>>(*W, lut, y);
    return crvq_cu_launched();
}

// One thread per weight of rows [r0, r0 + rows), permuted order.
__global__ void vq_expand_kernel(crvq_cu_vq W, int r0, int rows, float *w) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)rows * W.n) return;
    int r = r0 + (int)(id / W.n), j = (int)(id % W.n), g = j / W.d, t = j % W.d;
    float v = W.cb[0][(size_t)code_of(W.codes, W.wide0, (size_t)r * W.ng + g) * W.d + t];
    if (g < W.nc)
        for (int k = 1; k < W.M; k++)
            v += W.cb[k][(size_t)code_of(W.ext, W.wide_x, ((size_t)r * W.nc + g) * (W.M - 1) + k - 1) * W.d + t];
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

__device__ static inline float h16(uint16_t h, int bf16) {
    return bf16 ? __uint_as_float((unsigned)h << 16) : __half2float(__ushort_as_half(h));
}

// One warp per row. Rows whose length is a multiple of 8 are read 16 bytes
// (8 values) per lane and load, the rest one value at a time.
__global__ void h16_gemv_kernel(const uint16_t *W, int bf16, int m, int n, const float *x, float *y) {
    int r = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= m) return;
    const uint16_t *row = W + (size_t)r * n;
    float acc = 0.0f;
    if (n % 8 == 0) {
        const uint4 *row8 = (const uint4 *)row;
        for (int i = lane; i < n / 8; i += 32) {
            uint4 v = row8[i];
            const uint16_t *h = (const uint16_t *)&v;
            const float *xi = x + (size_t)i * 8;
            for (int t = 0; t < 8; t++) acc += h16(h[t], bf16) * xi[t];
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
        for (int j = 0; j < T; j++) acc += sc[j] * vt[(size_t)j * kvd];
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
