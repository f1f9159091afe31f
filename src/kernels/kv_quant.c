// kv_quant.c — quantize, dequantize and use the groups of a quantized KV
// cache (see kv_quant.h).
#include "kernels/kv_quant.h"

#include <math.h>
#include <string.h>

#include "crvq.h"

// fp16's largest finite value: a scale above it is clamped there (values
// beyond 127 x 65504 saturate) so that no code ever meets an infinite scale.
#define F16_MAX 65504.0f

// An fp16 scale as float32: normal numbers inline (every group of a row
// needs its scale, and the call was a tenth of a decode step), the rest
// (zero, subnormals; the sign bit or an all-ones exponent, which no
// stored scale has) by crvq_f16_to_f32.
static inline float scale_f32(uint16_t h) {
    const uint32_t e = h >> 10;
    if (e == 0 || e >= 31) return crvq_f16_to_f32(h);
    const uint32_t u = (e + 112) << 23 | (uint32_t)(h & 0x3ff) << 13;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// q = round(x / d) in [-Q, Q]; NaN compares false and saturates at +Q, so
// no float-to-int conversion is ever out of range.
static int level(float x, float inv_d, int Q) {
    float v = x * inv_d;
    v = v < (float)Q ? v : (float)Q;
    v = v > (float)-Q ? v : (float)-Q;
    return (int)roundf(v);
}

void crvq_kvq_quantize_group(int bits, const float *x, int n, uint8_t *codes, uint16_t *scale) {
    const int Q = crvq_kvq_qmax(bits);
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    float d = m / (float)Q;
    *scale = crvq_f32_to_f16(d < F16_MAX ? d : F16_MAX);
    // divide by the scale as stored, not by d: the error bound holds for
    // what dequantization multiplies with
    float ds = scale_f32(*scale), inv = ds > 0.0f ? 1.0f / ds : 0.0f;
    if (bits == 8) {
        for (int i = 0; i < n; i++) codes[i] = (uint8_t)(int8_t)level(x[i], inv, Q);
        return;
    }
    for (int i = 0; i < n; i += 2)
        codes[i / 2] = (uint8_t)((level(x[i], inv, Q) + 8) | (level(x[i + 1], inv, Q) + 8) << 4);
}

void crvq_kvq_dequantize_group(int bits, const uint8_t *codes, uint16_t scale, int n, float *y) {
    const float d = scale_f32(scale);
    if (bits == 8) {
#pragma omp simd
        for (int i = 0; i < n; i++) y[i] = d * (float)(int8_t)codes[i];
        return;
    }
#pragma omp simd
    for (int j = 0; j < n / 2; j++) {
        y[2 * j] = d * (float)((codes[j] & 15) - 8);
        y[2 * j + 1] = d * (float)((codes[j] >> 4) - 8);
    }
}

// Values in group g of a row of n.
static int group_len(int n, int g) {
    int rest = n - g * CRVQ_KVQ_GROUP;
    return rest < CRVQ_KVQ_GROUP ? rest : CRVQ_KVQ_GROUP;
}

void crvq_kvq_quantize(int bits, const float *x, int n, uint8_t *codes, uint16_t *scales) {
    const size_t gb = crvq_kvq_row_bytes(bits, CRVQ_KVQ_GROUP);
    for (int g = 0; g < crvq_kvq_groups(n); g++)
        crvq_kvq_quantize_group(bits, x + g * CRVQ_KVQ_GROUP, group_len(n, g), codes + g * gb, scales + g);
}

void crvq_kvq_dequantize(int bits, const uint8_t *codes, const uint16_t *scales, int n, float *y) {
    const size_t gb = crvq_kvq_row_bytes(bits, CRVQ_KVQ_GROUP);
    for (int g = 0; g < crvq_kvq_groups(n); g++)
        crvq_kvq_dequantize_group(bits, codes + g * gb, scales[g], group_len(n, g), y + g * CRVQ_KVQ_GROUP);
}

// Σ q[i] · level[i] of one group (its scale not applied). The sum may be
// reordered into SIMD lanes (as crvq_dot's): one chain of dependent float
// adds made decoding over the cache latency-bound.
static float group_dot(int bits, const float *q, const uint8_t *c, int n) {
    float s = 0.0f;
    if (bits == 8) {
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < n; i++) s += q[i] * (float)(int8_t)c[i];
        return s;
    }
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n / 2; j++)
        s += q[2 * j] * (float)((c[j] & 15) - 8) + q[2 * j + 1] * (float)((c[j] >> 4) - 8);
    return s;
}

float crvq_kvq_dot(int bits, const float *q, const uint8_t *codes, const uint16_t *scales, int n) {
    const size_t gb = crvq_kvq_row_bytes(bits, CRVQ_KVQ_GROUP);
    float s = 0.0f;
    for (int g = 0; g < crvq_kvq_groups(n); g++)
        s += scale_f32(scales[g]) *
             group_dot(bits, q + g * CRVQ_KVQ_GROUP, codes + g * gb, group_len(n, g));
    return s;
}

void crvq_kvq_axpy(int bits, float a, const uint8_t *codes, const uint16_t *scales, int n, float *y) {
    const size_t gb = crvq_kvq_row_bytes(bits, CRVQ_KVQ_GROUP);
    for (int g = 0; g < crvq_kvq_groups(n); g++) {
        const float ad = a * scale_f32(scales[g]);
        const uint8_t *c = codes + g * gb;
        float *yg = y + g * CRVQ_KVQ_GROUP;
        const int len = group_len(n, g);
        if (bits == 8) {
#pragma omp simd
            for (int i = 0; i < len; i++) yg[i] += ad * (float)(int8_t)c[i];
            continue;
        }
#pragma omp simd
        for (int j = 0; j < len / 2; j++) {
            yg[2 * j] += ad * (float)((c[j] & 15) - 8);
            yg[2 * j + 1] += ad * (float)((c[j] >> 4) - 8);
        }
    }
}
