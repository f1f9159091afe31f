// ops.h — the small ops of a transformer block, written as plain scalar
// loops, each forward with its backward beside it (llm.c style: the
// backward takes the gradient of the loss with respect to the op's output
// and gives those with respect to its inputs). Most work on one row at a
// time and the callers parallelize over rows or heads around them; the
// RMSNorm over rows runs its own OpenMP loop (no BLAS inside).
#ifndef CRVQ_KERNELS_OPS_H
#define CRVQ_KERNELS_OPS_H

// out = x / sqrt(mean(x²) + eps) * w, all (n). out may alias x.
void crvq_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
// crvq_rmsnorm of each row: out (n, dim) from x (n, dim); inv_rms (n), if
// not NULL, keeps each row's 1/rms as crvq_rmsnorm computes it (what the
// backward needs).
void crvq_rmsnorm_rows(const float *x, const float *w, int n, int dim, float eps, float *out, float *inv_rms);
// RMSNorm backward, y = w ∘ x · inv_rms: dx (n, dim) += dL/dx when dx is not
// NULL; dw (dim) += dL/dw when dw is not NULL. dy (n, dim). Sums over rows
// run by columns in row order: independent of the thread count.
void crvq_rmsnorm_backward(const float *x, const float *w, const float *inv_rms, const float *dy, int n, int dim,
                           float *dx, float *dw);

// In-place softmax of x (n), stable: subtracts the maximum first.
void crvq_softmax(float *x, int n);

// gate = silu(gate) * up, both (n): the SwiGLU activation.
void crvq_swiglu(float *gate, const float *up, int n);
// SwiGLU backward, a = silu(g) · u: dg, du (n) = dL/dg, dL/du from da (n).
// dg may alias da.
void crvq_swiglu_backward(const float *g, const float *u, const float *da, float *dg, float *du, int n);

// Rotate the head vectors x (n_heads, head_dim) for one position by the
// angles whose cosines and sines are cos, sin (head_dim/2), pair i turning at
// the i-th frequency. interleaved: pairs are (2i, 2i+1) (llama2.c, GGUF);
// otherwise (i, i + head_dim/2) (Hugging Face).
void crvq_rope(float *x, int n_heads, int head_dim, const float *cos, const float *sin,
               int interleaved);
// RoPE backward for one position: the forward rotates each pair by +angle,
// so the gradient rotates back by -angle. dx (n_heads, head_dim) in place.
void crvq_rope_backward(float *dx, int n_heads, int head_dim, const float *cos, const float *sin, int interleaved);

// Dot product of a and b (n), accumulated in float.
float crvq_dot(const float *a, const float *b, int n);

#endif
