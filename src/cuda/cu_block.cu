// cu_block.cu — the small ops of a transformer block's forward on the GPU
// (declarations: cu_kernels.h): RMSNorm, bias, RoPE, the causal softmax of
// attention, SwiGLU, residual adds. Each follows the scalar CPU op it names
// (kernels/ops.c, model/block.c, model/attention.c) operation for
// operation; the float64 sums of RMSNorm and softmax run in a fixed tree
// instead of the CPU's order (in float64 that moves no float32 result by
// more than an ulp). The matrix products are cuBLAS SGEMMs (cuda_block.c).
#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

#define ROW_THREADS 256

// One block per row: out = w ∘ x / sqrt(mean(x²) + eps) (ops.c crvq_rmsnorm),
// and the row's 1/rms into inv[row] when inv is set (ops.c inv_rms_row).
__global__ void rmsnorm_rows_kernel(const float *x, const float *w, int dim, float eps, float *out, float *inv_rms) {
    __shared__ double part[ROW_THREADS / 32];
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *yr = out + (size_t)blockIdx.x * dim;
    double ss = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += (double)xr[i] * xr[i];
    ss = crvq_block_sum(ss, part);
    float inv = (float)(1.0 / sqrt(ss / dim + eps));
    if (inv_rms && threadIdx.x == 0) inv_rms[blockIdx.x] = inv;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

int crvq_cu_rmsnorm_rows(const float *x, const float *w, int n, int dim, float eps, float *out, float *inv_rms) {
    if (n < 1) return 0;
    rmsnorm_rows_kernel<<<n, ROW_THREADS>>>(x, w, dim, eps, out, inv_rms);
    return crvq_cu_launched();
}

__global__ void add_bias_kernel(float *y, const float *b, size_t len, int m) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < len) y[i] += b[i % m];
}

int crvq_cu_add_bias(float *y, const float *b, int n, int m) {
    size_t len = (size_t)n * m;
    add_bias_kernel<<<crvq_cu_blocks(len, 256), 256>>>(y, b, len, m);
    return crvq_cu_launched();
}

// One thread per (row, head, pair) of q, then of k (ops.c crvq_rope). With
// sign −1 the rotation runs backwards, which is its transpose: the backward
// (ops.c crvq_rope_backward; x·(−s) = −(x·s) exactly, so the same bits).
__global__ void rope_kernel(float *x, int n, int T, int heads, int hd, const float *cos_t, const float *sin_t,
                            int interleaved, float sign) {
    const int half = hd / 2;
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)n * heads * half) return;
    int i = (int)(id % half);
    size_t rh = id / half; // row · heads + head
    size_t t = rh / heads;
    size_t p = t % T;
    float *v = x + rh * hd;
    int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    float c = cos_t[p * half + i], s = sign * sin_t[p * half + i];
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

static int rope_both(float *q, float *k, int n, int T, int n_heads, int n_kv, int hd, const float *cos_t,
                     const float *sin_t, int interleaved, float sign) {
    size_t nq = (size_t)n * n_heads * (hd / 2), nk = (size_t)n * n_kv * (hd / 2);
    rope_kernel<<<crvq_cu_blocks(nq, 256), 256>>>(q, n, T, n_heads, hd, cos_t, sin_t, interleaved, sign);
    int e = crvq_cu_launched();
    if (e) return e;
    rope_kernel<<<crvq_cu_blocks(nk, 256), 256>>>(k, n, T, n_kv, hd, cos_t, sin_t, interleaved, sign);
    return crvq_cu_launched();
}

int crvq_cu_rope(float *q, float *k, int n, int T, int n_heads, int n_kv, int hd, const float *cos_t,
                 const float *sin_t, int interleaved) {
    return rope_both(q, k, n, T, n_heads, n_kv, hd, cos_t, sin_t, interleaved, 1.0f);
}

int crvq_cu_rope_back(float *dq, float *dk, int n, int T, int n_heads, int n_kv, int hd, const float *cos_t,
                      const float *sin_t, int interleaved) {
    return rope_both(dq, dk, n, T, n_heads, n_kv, hd, cos_t, sin_t, interleaved, -1.0f);
}

// One block per row r of S (rows, T), i = r % T: softmax of keys 0..i, the
// next zeroed to the end of i's chunk (attention.c causal_softmax_row,
// ops.c crvq_softmax: float maximum, the shared exp, float64 sum, one float
// reciprocal).
__global__ void causal_softmax_kernel(float *S, int T, int chunk) {
    __shared__ double part[ROW_THREADS / 32];
    __shared__ float mpart[ROW_THREADS / 32];
    float *row = S + (size_t)blockIdx.x * T;
    const int visible = (int)(blockIdx.x % T) + 1;
    const int end = min(T, (visible + chunk - 1) / chunk * chunk);
    crvq_block_softmax(row, visible, part, mpart);
    for (int j = visible + threadIdx.x; j < end; j += blockDim.x) row[j] = 0.0f;
}

int crvq_cu_causal_softmax(float *S, int rows, int T, int chunk) {
    if (rows < 1) return 0;
    causal_softmax_kernel<<<rows, ROW_THREADS>>>(S, T, chunk);
    return crvq_cu_launched();
}

__global__ void swiglu_kernel(float *g, const float *u, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float x = g[i];
        g[i] = x / (1.0f + expf(-x)) * u[i];
    }
}

int crvq_cu_swiglu(float *g, const float *u, size_t n) {
    swiglu_kernel<<<crvq_cu_blocks(n, 256), 256>>>(g, u, n);
    return crvq_cu_launched();
}

__global__ void residual_kernel(float *h, const float *x, const float *o, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) h[i] = x[i] + o[i];
}

int crvq_cu_residual(float *h, const float *x, const float *o, size_t n) {
    residual_kernel<<<crvq_cu_blocks(n, 256), 256>>>(h, x, o, n);
    return crvq_cu_launched();
}
