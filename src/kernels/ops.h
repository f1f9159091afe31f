// ops.h — the small per-row kernels of the transformer forward pass, written
// as plain scalar loops. They work on one row at a time; the forward pass
// parallelizes over rows or heads around them.
#ifndef CRVQ_KERNELS_OPS_H
#define CRVQ_KERNELS_OPS_H

// out = x / sqrt(mean(x²) + eps) * w, all (n). out may alias x.
void crvq_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

// In-place softmax of x (n), stable: subtracts the maximum first.
void crvq_softmax(float *x, int n);

// gate = silu(gate) * up, both (n): the SwiGLU activation.
void crvq_swiglu(float *gate, const float *up, int n);

// Rotate the head vectors x (n_heads, head_dim) for one position by the
// angles whose cosines and sines are cos, sin (head_dim/2), pair i turning at
// the i-th frequency. interleaved: pairs are (2i, 2i+1) (llama2.c, GGUF);
// otherwise (i, i + head_dim/2) (Hugging Face).
void crvq_rope(float *x, int n_heads, int head_dim, const float *cos, const float *sin,
               int interleaved);

// Dot product of a and b (n), accumulated in float.
float crvq_dot(const float *a, const float *b, int n);

#endif
