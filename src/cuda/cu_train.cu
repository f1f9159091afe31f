// cu_train.cu — the kernels of block fine-tuning on the GPU (declarations:
// cu_kernels.h, "Block fine-tuning"): VQ / CRVQ projections expanded from
// their frozen codes and trained codebooks, their gradients reduced by code,
// the backward passes of RMSNorm, SwiGLU, RoPE and the causal softmax, the
// squared error of a batch, Adam, fp16 rounding. Each follows the CPU code
// it names operation for operation (nvcc --fmad=false); float64 sums run in
// a fixed tree or a fixed slice order instead of the CPU's order, so a
// result may differ from the CPU's by rounding, never between two runs.
// Also the KL rows of end-to-end distillation.
#include <cuda_fp16.h>

#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"

#define ROW_THREADS 256

// ----------------------------------------------------- VQ projections ---

// Unscaled entry t of group g of row r with codebook terms in the CPU's
// order: C0[c0][t], then + Ck[ck][t] for k = 1..M-1 on critical groups.
__device__ static float unscaled(const crvq_cu_vq_train &L, size_t r, int g, int t) {
    float o = L.cb[0][(size_t)L.codes[r * L.ng + g] * L.d + t];
    if (g < L.nc)
        for (int k = 1; k < L.M; k++)
            o += L.cb[k][(size_t)L.codes_ext[(r * L.nc + g) * (L.M - 1) + k - 1] * L.d + t];
    return o;
}

// W (m, n), original column order: W[r, perm[j]] = s_r · unscaled(r, j)
// (vq_lut.c dequant_scalar, then linear.c expand_rows' un-permutation).
__global__ void vq_expand_kernel(crvq_cu_vq_train L, float *W) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)L.m * L.n) return;
    size_t r = id / L.n;
    int j = (int)(id % L.n);
    float v = unscaled(L, r, j / L.d, j % L.d) * L.scales[r];
    W[r * L.n + (L.perm ? L.perm[j] : j)] = v;
}

int crvq_cu_vq_expand(const crvq_cu_vq_train *L, float *W) {
    size_t len = (size_t)L->m * L->n;
    vq_expand_kernel<<<crvq_cu_blocks(len, 256), 256>>>(*L, W);
    return crvq_cu_launched();
}

// One block per row: g_scales[r] += Σ_j dW[r, perm[j]] · (each codebook
// term of entry j), in float64 (linear.c reduce_by_codes' ds).
__global__ void vq_grad_scales_kernel(crvq_cu_vq_train L, const float *dW, float *g_scales) {
    __shared__ double part[ROW_THREADS / 32];
    const size_t r = blockIdx.x;
    double ds = 0;
    for (int j = threadIdx.x; j < L.n; j += blockDim.x) {
        const int g = j / L.d, t = j % L.d;
        const double v = dW[r * L.n + (L.perm ? L.perm[j] : j)];
        ds += v * L.cb[0][(size_t)L.codes[r * L.ng + g] * L.d + t];
        if (g < L.nc)
            for (int k = 1; k < L.M; k++)
                ds += v * L.cb[k][(size_t)L.codes_ext[(r * L.nc + g) * (L.M - 1) + k - 1] * L.d + t];
    }
    ds = crvq_block_sum(ds, part);
    if (threadIdx.x == 0) g_scales[r] += (float)ds;
}

int crvq_cu_vq_grad_scales(const crvq_cu_vq_train *L, const float *dW, float *g_scales) {
    if (L->m < 1) return 0;
    vq_grad_scales_kernel<<<L->m, ROW_THREADS>>>(*L, dW, g_scales);
    return crvq_cu_launched();
}

// Item i of codebook k is (row, group) = (i / ngk, i % ngk), ngk = ng for
// k = 0 and nc after; its entry t contributes s_row · dW[row, perm[g d + t]].
struct codeword_grad {
    int ngk, d, n;
    const float *scales, *dW;
    const int32_t *perm;
    __device__ double operator()(uint32_t i, int t) const {
        size_t r = i / ngk;
        int j = (int)(i % ngk) * d + t;
        return (double)scales[r] * dW[r * n + (perm ? perm[j] : j)];
    }
};

int crvq_cu_vq_grad_codebook(const crvq_cu_vq_train *L, int k, const int *start, const int *end,
                             const uint32_t *items, const float *dW, double *acc) {
    codeword_grad f{k == 0 ? L->ng : L->nc, L->d, L->n, L->scales, dW, L->perm};
    return crvq_segment_sum(start, end, items, L->K[k], L->d, 0, f, acc);
}

__global__ void add_f64_kernel(float *g, const double *acc, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) g[i] += (float)acc[i];
}

int crvq_cu_add_f64(float *g, const double *acc, size_t n) {
    if (!n) return 0;
    add_f64_kernel<<<crvq_cu_blocks(n, 256), 256>>>(g, acc, n);
    return crvq_cu_launched();
}

// ---------------------------------------------------------- backwards ---

// One block per row (ops.c crvq_rmsnorm_backward's dx):
//   dx = [dx +] r w dy − (r³ Σ_i w_i dy_i x_i / dim) x
// dx may alias dy when accumulate is 0 (each entry is read, then written,
// by one thread, after the row's sum).
__global__ void rmsnorm_back_rows_kernel(const float *x, const float *w, const float *inv, const float *dy,
                                         int dim, int accumulate, float *dx) {
    __shared__ double part[ROW_THREADS / 32];
    const size_t t = blockIdx.x;
    const float *xt = x + t * dim, *gt = dy + t * dim;
    float *dxt = dx + t * dim;
    double dot = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) dot += (double)w[i] * gt[i] * xt[i];
    dot = crvq_block_sum(dot, part);
    const double r = inv[t];
    const float c = (float)(r * r * r * dot / dim);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = inv[t] * w[i] * gt[i] - c * xt[i];
        dxt[i] = accumulate ? dxt[i] + v : v;
    }
}

int crvq_cu_rmsnorm_back_rows(const float *x, const float *w, const float *inv, const float *dy, int n, int dim,
                              int accumulate, float *dx) {
    if (n < 1) return 0;
    rmsnorm_back_rows_kernel<<<n, ROW_THREADS>>>(x, w, inv, dy, dim, accumulate, dx);
    return crvq_cu_launched();
}

// dw[i] += Σ_t dy[t,i] x[t,i] r_t, rows in order (ops.c's dw): one thread a column.
__global__ void rmsnorm_back_weight_kernel(const float *x, const float *inv, const float *dy, int n, int dim,
                                           float *dw) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim) return;
    double s = 0;
    for (int t = 0; t < n; t++) s += (double)dy[(size_t)t * dim + i] * x[(size_t)t * dim + i] * inv[t];
    dw[i] += (float)s;
}

int crvq_cu_rmsnorm_back_weight(const float *x, const float *inv, const float *dy, int n, int dim, float *dw) {
    rmsnorm_back_weight_kernel<<<crvq_cu_blocks(dim, 128), 128>>>(x, inv, dy, n, dim, dw);
    return crvq_cu_launched();
}

// ops.c crvq_swiglu_backward: dg may alias da.
__global__ void swiglu_back_kernel(const float *g, const float *u, const float *da, float *dg, float *du, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float sig = 1.0f / (1.0f + expf(-g[i]));
    const float d = da[i];
    du[i] = d * g[i] * sig;
    dg[i] = d * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
}

int crvq_cu_swiglu_back(const float *g, const float *u, const float *da, float *dg, float *du, size_t n) {
    swiglu_back_kernel<<<crvq_cu_blocks(n, 256), 256>>>(g, u, da, dg, du, n);
    return crvq_cu_launched();
}

// One block per row r (i = r % T): dS = P ∘ (dP − Σ_{j<=i} p_j dP_j), zero
// past i (attention.c crvq_attn_backward's row loop).
__global__ void softmax_back_kernel(const float *P, float *dS, int T, int chunk) {
    __shared__ double part[ROW_THREADS / 32];
    const float *p = P + (size_t)blockIdx.x * T;
    float *g = dS + (size_t)blockIdx.x * T;
    const int visible = (int)(blockIdx.x % T) + 1;
    const int end = min(T, (visible + chunk - 1) / chunk * chunk);
    double dot = 0;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) dot += (double)p[j] * g[j];
    dot = crvq_block_sum(dot, part);
    const float fd = (float)dot;
    for (int j = threadIdx.x; j < end; j += blockDim.x) g[j] = j < visible ? p[j] * (g[j] - fd) : 0.0f;
}

int crvq_cu_softmax_back(const float *P, float *dS, int rows, int T, int chunk) {
    if (rows < 1) return 0;
    softmax_back_kernel<<<rows, ROW_THREADS>>>(P, dS, T, chunk);
    return crvq_cu_launched();
}

// ------------------------------------------------------------ the loss ---

#define ERR_BLOCKS 256

// Block b sums (y − ref)² over i = b·256 + thread, strided by the grid, into
// part[b]; with dy set, dy[i] = two_over · (y − ref) (block_ft.c's dL/dy).
__global__ void sq_err_kernel(const float *y, const float *ref, size_t n, float two_over, float *dy, double *part) {
    __shared__ double sp[ROW_THREADS / 32];
    double s = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float e = y[i] - ref[i];
        s += (double)e * e;
        if (dy) dy[i] = two_over * e;
    }
    s = crvq_block_sum(s, sp);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// *acc += Σ part in order.
__global__ void sum_parts_kernel(const double *part, int n, double *acc) {
    double s = 0;
    for (int i = 0; i < n; i++) s += part[i];
    *acc += s;
}

int crvq_cu_sq_err(const float *y, const float *ref, size_t n, float two_over, float *dy, double *part,
                   double *acc) {
    sq_err_kernel<<<ERR_BLOCKS, ROW_THREADS>>>(y, ref, n, two_over, dy, part);
    int e = crvq_cu_launched();
    if (e) return e;
    sum_parts_kernel<<<1, 1>>>(part, ERR_BLOCKS, acc);
    return crvq_cu_launched();
}

size_t crvq_cu_sq_err_parts(void) { return ERR_BLOCKS; }

// ------------------------------------------------------- the optimizer ---

// adam.c crvq_adam_step's element update.
__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2, float step,
                            float inv_sqrt_bc2, float eps) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
}

int crvq_cu_adam(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2, float step,
                 float inv_sqrt_bc2, float eps) {
    if (!n) return 0;
    adam_kernel<<<crvq_cu_blocks(n, 256), 256>>>(p, g, m, v, n, b1, b2, step, inv_sqrt_bc2, eps);
    return crvq_cu_launched();
}

// x[i] = fp16(x[i]) widened back, round to nearest even (crvq_f32_to_f16).
__global__ void round_f16_kernel(float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = __half2float(__float2half_rn(x[i]));
}

int crvq_cu_round_f16(float *x, size_t n) {
    if (!n) return 0;
    round_f16_kernel<<<crvq_cu_blocks(n, 256), 256>>>(x, n);
    return crvq_cu_launched();
}

// ------------------------------------------------------ distillation ---

// One block per row t (e2e.c kl_row, the same float64 formulas; the sums in
// a fixed tree): p = softmax(Tl_t) the teacher's, q = softmax(S_t) the
// student's; kl[t] = KL(p ‖ q), nll[t] = log Z_q − S[t, target[t]] (0 when
// target[t] < 0), and with want_grad S_t := (q − p)·coef.
__global__ void kl_rows_kernel(float *S, const float *Tl, int V, const int *target, float coef, int want_grad,
                               double *kl, double *nll) {
    __shared__ double part[ROW_THREADS / 32];
    __shared__ float mpart[ROW_THREADS / 32];
    const size_t t = blockIdx.x;
    float *s = S + t * V;
    const float *tl = Tl + t * V;
    float ms = -INFINITY, mt = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x) ms = fmaxf(ms, s[v]), mt = fmaxf(mt, tl[v]);
    ms = crvq_block_max(ms, mpart);
    mt = crvq_block_max(mt, mpart);
    double zs = 0, zt = 0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) zs += exp((double)s[v] - ms), zt += exp((double)tl[v] - mt);
    zs = crvq_block_sum(zs, part);
    zt = crvq_block_sum(zt, part);
    const double lzs = ms + log(zs), lzt = mt + log(zt); // log-normalisers
    double acc = 0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        const double lp = tl[v] - lzt, lq = s[v] - lzs;
        acc += exp(lp) * (lp - lq);
    }
    acc = crvq_block_sum(acc, part);
    if (threadIdx.x == 0) {
        kl[t] = acc;
        nll[t] = target[t] >= 0 ? lzs - s[target[t]] : 0.0;
    }
    if (!want_grad) return;
    __syncthreads(); // s[target] is read before the row is overwritten
    for (int v = threadIdx.x; v < V; v += blockDim.x) s[v] = (float)((exp(s[v] - lzs) - exp(tl[v] - lzt)) * coef);
}

int crvq_cu_kl_rows(float *S, const float *Tl, int rows, int V, const int *target, float coef, int want_grad,
                    double *kl, double *nll) {
    if (rows < 1) return 0;
    kl_rows_kernel<<<rows, ROW_THREADS>>>(S, Tl, V, target, coef, want_grad, kl, nll);
    return crvq_cu_launched();
}
