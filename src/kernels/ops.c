// ops.c — scalar reference versions of the per-row kernels (see ops.h).
#include "kernels/ops.h"

#include <math.h>
#include <stddef.h>

void crvq_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    // Sums in double here and in softmax: a float sum over thousands of
    // terms loses digits; in double the order of summation does not matter
    // at float precision.
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

void crvq_softmax(float *x, int n) {
    // three passes, so that the max, the sum and the scaling vectorize and
    // only the pass with the expf calls stays scalar
    float max = x[0];
#pragma omp simd reduction(max : max)
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    for (int i = 0; i < n; i++) x[i] = expf(x[i] - max);
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) sum += x[i];
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void crvq_swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void crvq_rope(float *x, int n_heads, int head_dim, const float *cos, const float *sin,
               int interleaved) {
    int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            // the two coordinates that rotate together at frequency i
            int a = interleaved ? 2 * i : i;
            int b = interleaved ? 2 * i + 1 : i + half;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cos[i] - x1 * sin[i];
            v[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

float crvq_dot(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
