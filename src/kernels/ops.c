// ops.c — the small ops of a transformer block, each forward with its
// backward beside it (see ops.h).
#include "kernels/ops.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/exp_nonpositive.h"
#include "util/threads.h"

void crvq_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    // Sums in double here and in softmax: a float sum over thousands of
    // terms loses digits; in double the order of summation does not matter
    // at float precision.
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

// 1/rms of one row exactly as crvq_rmsnorm computes it (double sum, then
// rounded to float), so the backward differentiates the forward's own value.
static float inv_rms_row(const float *x, int dim, float eps) {
    double ss = 0.0;
    for (int i = 0; i < dim; i++) ss += (double)x[i] * x[i];
    return (float)(1.0 / sqrt(ss / dim + eps));
}

void crvq_rmsnorm_rows(const float *x, const float *w, int n, int dim, float eps, float *out, float *inv_rms) {
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= CRVQ_PAR_MIN_WORK)
    for (int t = 0; t < n; t++) {
        crvq_rmsnorm(out + (size_t)t * dim, x + (size_t)t * dim, w, dim, eps);
        if (inv_rms) inv_rms[t] = inv_rms_row(x + (size_t)t * dim, dim, eps);
    }
}

// y_i = w_i x_i r with r = (Σ_j x_j² / dim + eps)^(-1/2), dr/dx_j = -r³ x_j / dim:
//   dL/dx_j = r w_j dy_j - r³ x_j / dim · Σ_i w_i dy_i x_i
//   dL/dw_i = Σ_rows dy_i x_i r
void crvq_rmsnorm_backward(const float *x, const float *w, const float *inv_rms, const float *dy,
                           int n, int dim, float *dx, float *dw) {
#pragma omp parallel if ((size_t)n * dim >= CRVQ_PAR_MIN_WORK)
    {
        if (dx) {
#pragma omp for schedule(static) nowait
            for (int t = 0; t < n; t++) {
                const float *xt = x + (size_t)t * dim, *gt = dy + (size_t)t * dim;
                float *dxt = dx + (size_t)t * dim;
                double dot = 0.0;
                for (int i = 0; i < dim; i++) dot += (double)w[i] * gt[i] * xt[i];
                const double r = inv_rms[t];
                const float c = (float)(r * r * r * dot / dim);
                for (int i = 0; i < dim; i++) dxt[i] += inv_rms[t] * w[i] * gt[i] - c * xt[i];
            }
        }
        if (dw) {
            // by columns, rows summed in order: independent of the thread count
#pragma omp for schedule(static)
            for (int i = 0; i < dim; i++) {
                double s = 0.0;
                for (int t = 0; t < n; t++)
                    s += (double)dy[(size_t)t * dim + i] * x[(size_t)t * dim + i] * inv_rms[t];
                dw[i] += (float)s;
            }
        }
    }
}

void crvq_softmax(float *x, int n) {
    float max = x[0];
#pragma omp simd reduction(max : max)
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) {
        x[i] = crvq_exp_nonpositive(x[i] - max);
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

// a = silu(g) u with silu(g) = g σ(g), silu'(g) = σ(g) (1 + g (1 - σ(g))).
void crvq_swiglu_backward(const float *g, const float *u, const float *da, float *dg, float *du,
                          int n) {
    for (int i = 0; i < n; i++) {
        const float sig = 1.0f / (1.0f + expf(-g[i]));
        const float d = da[i];
        du[i] = d * g[i] * sig;
        dg[i] = d * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
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

// Forward, per pair (a, b): y_a = x_a cos - x_b sin, y_b = x_a sin + x_b cos.
// Its transpose: dx_a = dy_a cos + dy_b sin, dx_b = -dy_a sin + dy_b cos.
void crvq_rope_backward(float *dx, int n_heads, int head_dim, const float *cos_t,
                        const float *sin_t, int interleaved) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = dx + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const int a = interleaved ? 2 * i : i;
            const int b = interleaved ? 2 * i + 1 : i + half;
            const float ga = v[a], gb = v[b];
            v[a] = ga * cos_t[i] + gb * sin_t[i];
            v[b] = -ga * sin_t[i] + gb * cos_t[i];
        }
    }
}

float crvq_dot(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
