// cu_search.cu — the code search (discrete step) on the GPU: tables and the
// greedy search of one block of groups (declarations: cu_kernels.h; the
// algorithm and its exact ΔL: src/quant/vq_search.c).
//
// One warp searches one row; lane t < d holds coordinate t of the group's
// vectors (h, δ, H_gg δ), and the 2^e candidates of a codebook are spread
// over the 32 lanes for scoring. Every sum the CPU adds in coordinate order
// is added in that order here too (crvq_warp_seq_sum), and scores use the
// CPU's fmaf chain, so given the same h a row makes the CPU's moves. Rows
// are independent: the result does not depend on scheduling.
#include <math.h>

#include "cuda/cu_common.cuh"
#include "cuda/cu_kernels.h"
#include "cuda/cuda_vq.h"

// Columns of one block of the search (vq_work.c CRVQ_VQ_BLOCK_COLUMNS) and
// warps (rows) per thread block.
#define CRVQ_CU_MAX_WB 128
#define CRVQ_CU_SEARCH_WARPS 4

__global__ void transpose_kernel(const float *C, int K, int d, float *ct) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)K * d) return;
    size_t j = i / d, t = i % d;
    ct[t * K + j] = C[i];
}

int crvq_cu_transpose(const float *C, int K, int d, float *ct) {
    transpose_kernel<<<crvq_cu_blocks((size_t)K * d, 256), 256>>>(C, K, d, ct);
    return crvq_cu_launched();
}

__global__ void qtable_kernel(const float *C, int K, int d, const double *Hgg, int ngk, float *q) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)ngk * K) return;
    size_t g = i / K, j = i % K;
    const double *Hg = Hgg + g * d * d;
    const float *c = C + j * d;
    double s = 0;
    for (int a = 0; a < d; a++) {
        double y = 0;
        for (int b = 0; b < d; b++) y += Hg[(size_t)a * d + b] * (double)c[b];
        s += (double)c[a] * y;
    }
    q[i] = (float)s;
}

int crvq_cu_qtable(const float *C, int K, int d, const double *Hgg, int ngk, float *q) {
    qtable_kernel<<<crvq_cu_blocks((size_t)ngk * K, 256), 256>>>(C, K, d, Hgg, ngk, q);
    return crvq_cu_launched();
}

// y_t = Σ_u A[t, u] x_u in u order, x_u held by lane u (all lanes take part).
__device__ inline double warp_matvec(const double *A, double x, int d, int lane) {
    double y = 0;
    for (int u = 0; u < d; u++) {
        double xu = __shfl_sync(CRVQ_FULL_MASK, x, u);
        if (lane < d) y += A[(size_t)lane * d + u] * xu;
    }
    return y;
}

// The codeword j < K of the smallest score q[j] + Σ_t vs[t] ct[t, j] (ct: the
// transposed codebook (d, K)), the first index among equal scores as the
// CPU's kernels: each lane scores its codewords, then the warp takes the
// argmin. K when there is none (all lanes get the answer).
__device__ inline int warp_best_code(const float *vs, const float *ct, const float *q, int K, int d, int lane) {
    float best = INFINITY;
    int bj = K;
    for (int j = lane; j < K; j += 32) {
        float sc = q[j];
        for (int t = 0; t < d; t++) sc = fmaf(vs[t], ct[(size_t)t * K + j], sc);
        if (bj == K || sc < best) {
            best = sc;
            bj = j;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ob = __shfl_xor_sync(CRVQ_FULL_MASK, best, o);
        int oj = __shfl_xor_sync(CRVQ_FULL_MASK, bj, o);
        if (oj < K && (bj == K || ob < best || (ob == best && oj < bj))) {
            best = ob;
            bj = oj;
        }
    }
    return bj;
}

__global__ void __launch_bounds__(CRVQ_CU_SEARCH_WARPS * 32) search_kernel(crvq_cu_search_args a) {
    __shared__ double hsh[CRVQ_CU_SEARCH_WARPS][CRVQ_CU_MAX_WB];
    __shared__ float vsh[CRVQ_CU_SEARCH_WARPS][CRVQ_CUDA_MAX_D];
    const crvq_cu_layer &L = a.L;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int r = blockIdx.x * CRVQ_CU_SEARCH_WARPS + warp;
    if (r >= L.m) return; // the whole warp: no block-wide barrier below
    int d = L.d, n = L.n, c0 = a.g0 * d, wb = (a.g1 - a.g0) * d;
    bool mine = lane < d;
    double *h = hsh[warp];
    float *vs = vsh[warp];
    float *dUr = a.dU + (size_t)r * wb;
    for (int c = lane; c < wb; c += 32) dUr[c] = 0;
    double s = a.scales[r];
    if (s == 0) return; // ŵ_r = 0 whatever the codes
    const float *wh = a.WH + (size_t)r * n + c0, *v = a.V + (size_t)r * n + c0;
    for (int c = lane; c < wb; c += 32) h[c] = (double)wh[c] - s * v[c];
    __syncwarp();
    double drow = a.drow[r];
    for (int g = a.g0; g < a.g1; g++) {
        int books = g < L.nc ? L.M : 1, off = (g - a.g0) * d;
        const double *Hg = a.Hgg + (size_t)g * d * d;
        double hs = mine ? h[off + lane] : 0, du = 0, dlg = 0;
        for (int k = 0; k < books; k++) {
            uint16_t *code = k == 0 ? &L.codes[(size_t)r * L.ng + g]
                                    : &L.codes_ext[((size_t)r * L.nc + g) * (L.M - 1) + (k - 1)];
            int b = *code, K = L.K[k];
            const float *Ck = a.cb + L.off[k];
            double c = mine ? (double)Ck[(size_t)b * d + lane] : 0;
            // The query v = −2 (hs/s + H_gg c) (vq_search.c query).
            double Hc = warp_matvec(Hg, c, d, lane);
            __syncwarp();
            if (mine) vs[lane] = (float)(-2.0 * (hs / s + Hc));
            __syncwarp();
            int bj = warp_best_code(vs, a.ct[k], a.q[k] + (size_t)g * K, K, d, lane);
            if (bj == b || bj >= K) continue;
            double delta = mine ? (double)Ck[(size_t)bj * d + lane] - c : 0;
            double Hd = warp_matvec(Hg, delta, d, lane);
            double dh = crvq_warp_seq_sum(delta * hs, d), dHd = crvq_warp_seq_sum(delta * Hd, d);
            double dl = -2.0 * s * dh + s * s * dHd;
            if (!(dl < 0)) continue;
            if (lane == 0) *code = (uint16_t)bj;
            du += delta;
            hs -= s * Hd;
            dlg += dl;
        }
        if (!(dlg < 0)) continue;
        drow += dlg;
        if (mine) {
            dUr[off + lane] = (float)du;
            vs[lane] = (float)du;
        }
        __syncwarp();
        // h of the later groups of the block: h[c] −= s Σ_t du_t H[g d + t, c0 + c].
        for (int c = off + d + lane; c < wb; c += 32) {
            double hc = h[c];
            for (int t = 0; t < d; t++) hc -= s * (double)vs[t] * a.H[((size_t)g * d + t) * n + c0 + c];
            h[c] = hc;
        }
        __syncwarp();
    }
    if (lane == 0) a.drow[r] = drow;
}

int crvq_cu_search_block(const crvq_cu_search_args *a) {
    if (a->L.d > CRVQ_CUDA_MAX_D || (a->g1 - a->g0) * a->L.d > CRVQ_CU_MAX_WB) return (int)cudaErrorInvalidValue;
    search_kernel<<<crvq_cu_blocks((size_t)a->L.m, CRVQ_CU_SEARCH_WARPS), CRVQ_CU_SEARCH_WARPS * 32>>>(*a);
    return crvq_cu_launched();
}
