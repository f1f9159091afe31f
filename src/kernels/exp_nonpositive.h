// exp_nonpositive.h — the exp of softmax, shared by the CPU (kernels/ops.c
// crvq_softmax) and the GPU (cuda/cu_block.cu's attention softmax), so that
// both devices weigh attention scores with the same function, not expf's
// and __expf's different roundings.
#ifndef CRVQ_KERNELS_EXP_NONPOSITIVE_H
#define CRVQ_KERNELS_EXP_NONPOSITIVE_H

#include <stdint.h>

#ifdef __CUDACC__
#define CRVQ_HOST_DEVICE __host__ __device__
#else
#define CRVQ_HOST_DEVICE
#endif

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
CRVQ_HOST_DEVICE static inline float crvq_exp_nonpositive(float x) {
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
    union { uint32_t u; float f; } scale; // 2^k (no designated initializer: nvcc reads this as C++)
    scale.u = (uint32_t)((int32_t)k + 127) << 23;
    union { float f; uint32_t u; } y = {p * scale.f};
    y.u |= (0u - nan) & 0x7fc00000u; // all-ones exponent and the quiet bit: NaN
    return y.f;
}

#endif
