// ops.c — scalar reference versions of the per-row kernels (see ops.h).
#include "kernels/ops.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

void crvq_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    // Sums in double here and in softmax: a float sum over thousands of
    // terms loses digits; in double the order of summation does not matter
    // at float precision.
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

// exp(x) for x <= 0, written so that a loop over it vectorizes (expf is a
// library call, which keeps a loop scalar; softmax calls it for every
// attention score). x = k ln2 + r with |r| <= ln2/2; exp(r) by Cephes'
// expf polynomial; 2^k put into the exponent bits. Relative error below
// 1e-7 (expf: 6e-8). |x| is capped at 87 with integer operations on the bits
// (a float compare would keep the loop scalar under -ftrapping-math), so 2^k
// stays a normal float: exp of anything below -87 is 1.6e-38, and positive
// x is taken as -x. NaN stays NaN (an integer test and an OR, no branch, so
// the loop still vectorizes): a NaN score from an overflow upstream must
// reach the logits, where crvq_forward catches it, instead of becoming a
// tiny weight that softmax normalizes into uniform attention.
static inline float exp_nonpositive(float x) {
    union { float f; uint32_t u; } v = {x};
    uint32_t mag = v.u & 0x7fffffffu;
    uint32_t nan = mag > 0x7f800000u;
    mag = mag < 0x42ae0000u ? mag : 0x42ae0000u; // 87.0f
    v.u = mag | 0x80000000u;
    x = v.f;
    // k = round(x / ln2): adding and subtracting 1.5 * 2^23 rounds to an integer
    float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    // r = x - k ln2 with ln2 split in two, k * 0.693359375 being exact
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { uint32_t u; float f; } scale = {.u = (uint32_t)((int32_t)k + 127) << 23}; // 2^k
    union { float f; uint32_t u; } y = {p * scale.f};
    y.u |= (0u - nan) & 0x7fc00000u; // all-ones exponent and the quiet bit: NaN
    return y.f;
}

void crvq_softmax(float *x, int n) {
    float max = x[0];
#pragma omp simd reduction(max : max)
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) {
        x[i] = exp_nonpositive(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
#pragma omp simd
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
