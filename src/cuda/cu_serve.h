// cu_serve.h — the C interface of the serving kernels (cu_serve.cu): linear
// layers computed from their stored form (VQ / CRVQ codes, scalar packed
// codes, 16-bit dense rows) and attention over a KV cache. Conventions as
// cu_kernels.h: default stream, 0 or the launch's cudaError_t, device
// pointers, row-major. Each kernel names the CPU code it mirrors; the sums
// run in another order than the CPU's (warp trees), so results agree with
// the CPU within float32 summation bounds, not bit for bit.
#ifndef CRVQ_CU_SERVE_H
#define CRVQ_CU_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

#ifdef __cplusplus
extern "C" {
#endif

// A VQ / CRVQ layer on the device, as kernels/vq_types.h lays it out:
//   ŵ[r,g] = scales[r]·(C0[codes[r,g]] + [g < nc] Σ_{k≥1} Ck[ext[r,g,k−1]])
// in permuted column order (column j is original column perm[j]).
typedef struct crvq_cu_vq {
    int m, n, d, M, ng, nc;
    int K[CRVQ_MAX_CODEBOOKS];
    int wide0, wide_x;         // codes / ext codes are uint16 (else uint8)
    const void *codes;         // (m, ng)
    const void *ext;           // (m, nc, M−1) or NULL
    const uint16_t *cb[CRVQ_MAX_CODEBOOKS]; // (K[k], d), the stored fp16 values
    const float *scales;       // (m)
    const int32_t *perm;       // (n) or NULL
} crvq_cu_vq;

// Floats of the staged inputs of one token: 4·ceil(d/4)·ng.
size_t crvq_cu_vq_xq_floats(const crvq_cu_vq *W);
// y (m) = Ŵ x for one token x (n, original order): x staged into xq
// (crvq_cu_vq_xq_floats) in the weights' order, then a warp per two rows
// looking each code up and dotting its codeword with the inputs. Each
// group's dot runs in the CPU's order (vq_lut.c's tables); the sum over
// groups is a warp butterfly, not the CPU's order.
int crvq_cu_vq_gemv(const crvq_cu_vq *W, const float *x, float *xq, float *y);
// Rows [r0, r0 + rows) of Ŵ into w (rows, n), *permuted* column order
// (vq_weights.c crvq_vq_dequant_rows).
int crvq_cu_vq_expand_tile(const crvq_cu_vq *W, int r0, int rows, float *w);
// xp (rows, n): xp[i, j] = x[i, perm[j]] (the inputs in the weights' order).
int crvq_cu_permute_rows(const float *x, int rows, int n, const int32_t *perm, float *xp);

// A scalar (RTN / GPTQ) layer on the device (kernels/sq_types.h):
// Ŵ[r,c] = scale[r,g]·(q[r,c] − zero[r,g]), g = c / gs, codes packed LSB-first.
typedef struct crvq_cu_sq {
    int m, n, bits, gs, n_gr;
    size_t row_bytes;
    const uint8_t *q;     // (m, row_bytes)
    const float *scale;   // (m, n_gr)
    const float *zero;    // (m, n_gr)
} crvq_cu_sq;

// y (m) = Ŵ x, one warp per row (sq_kernels.c crvq_sq_matvec_scalar's
// formula: Σ_g scale·(Σ_c q x − zero·Σ_c x)).
int crvq_cu_sq_gemv(const crvq_cu_sq *W, const float *x, float *y);
// Rows [r0, r0 + rows) of Ŵ into w (rows, n) (crvq_sq_dequant_scalar).
int crvq_cu_sq_expand(const crvq_cu_sq *W, int r0, int rows, float *w);

// 16-bit dense rows W (m, n), bf16 when bf16 is set, else fp16 (widened
// exactly, as linear.c's crvq_linear_dense_rows).
// y (m) = W x, one warp per row.
int crvq_cu_h16_gemv(const uint16_t *W, int bf16, int m, int n, const float *x, float *y);
// Rows [r0, r0 + rows) widened into w (rows, n).
int crvq_cu_h16_expand(const uint16_t *W, int bf16, int n, int r0, int rows, float *w);

// Attention of n query rows at positions pos..pos+n−1 over a layer's cache:
// q, out (n, n_heads·hd); kc, vc (≥ pos+n, n_kv·hd) hold the keys (RoPE
// applied) and values of positions 0..pos+n−1. Row i, head h attends over
// keys 0..pos+i of kv head h / (n_heads / n_kv) (attention.c: scores scaled
// by 1/sqrt(hd), crvq_softmax with kernels/exp_nonpositive.h and a float64
// sum, then P·V). One block per (row, head); the scores of a row sit in
// shared memory, so pos + n ≤ crvq_cu_attn_max_keys().
int crvq_cu_attn_cached(const float *q, const float *kc, const float *vc, int n, int pos, int n_heads, int n_kv,
                        int hd, float *out);
int crvq_cu_attn_max_keys(void);

#ifdef __cplusplus
}
#endif
#endif
