// half.c — fp16 and bf16 conversions (exact where the format allows).
#include "crvq.h"

#include <string.h>

static float bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

float crvq_bf16_to_f32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

float crvq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13)); // inf / nan
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        // subnormal: value = man * 2^-24
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t crvq_f32_to_f16(float f) {
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0); // inf / nan
    if (a >= 0x477ff000u) return sign | 0x7c00; // rounds to >= 65520: overflow to inf
    if (a < 0x38800000u) {                      // below the smallest normal 2^-14
        // subnormal: round a * 2^24 to the nearest integer, ties to even
        float v = bits_to_f32(a) * 16777216.0f;
        uint32_t i = (uint32_t)v;
        float frac = v - (float)i;
        if (frac > 0.5f || (frac == 0.5f && (i & 1))) i++;
        return sign | (uint16_t)i;
    }
    uint32_t mant = a & 0x7fffff, exp = (a >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; // carry into exp is correct
    return sign | (uint16_t)h;
}

const char *crvq_dtype_name(crvq_dtype t) {
    switch (t) {
    case CRVQ_F32: return "f32";
    case CRVQ_F16: return "f16";
    case CRVQ_BF16: return "bf16";
    case CRVQ_Q8_0: return "q8_0";
    case CRVQ_I8: return "i8";
    case CRVQ_I16: return "i16";
    case CRVQ_I32: return "i32";
    case CRVQ_I64: return "i64";
    case CRVQ_F64: return "f64";
    case CRVQ_U8: return "u8";
    }
    return "unknown";
}
