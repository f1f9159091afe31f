// test_finite.c — the non-finite scan against a scalar reference that
// decodes every element: each float type, the Q8_0 block scales, lengths
// around the chunk size and the parallel threshold, unaligned data, every
// NaN payload class, ±Inf, and the finite values next to them (largest
// finite, subnormals, -0) that must not be flagged.
#include "check.h"
#include "crvq.h"
#include "util/finite.h"

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

// width in bytes of one checked value, and its stride (Q8_0: a block)
static int width_of(crvq_dtype t) { return t == CRVQ_F32 ? 4 : t == CRVQ_F64 ? 8 : 2; }
static int stride_of(crvq_dtype t) { return t == CRVQ_Q8_0 ? 34 : width_of(t); }
static int per_of(crvq_dtype t) { return t == CRVQ_Q8_0 ? 32 : 1; }

// the reference: decode value i and ask isfinite
static int finite_at(crvq_dtype t, const uint8_t *p, int64_t i) {
    const uint8_t *e = p + i * stride_of(t);
    uint16_t h;
    float f;
    double d;
    switch (t) {
    case CRVQ_F32: memcpy(&f, e, 4); return isfinite(f);
    case CRVQ_F64: memcpy(&d, e, 8); return isfinite(d);
    case CRVQ_BF16: memcpy(&h, e, 2); return isfinite(crvq_bf16_to_f32(h));
    default: memcpy(&h, e, 2); return isfinite(crvq_f16_to_f32(h)); // F16, Q8_0 scale
    }
}

static int64_t ref_first(crvq_dtype t, const uint8_t *p, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (!finite_at(t, p, i)) return i * per_of(t);
    return -1;
}

// the bit pattern of a special value of type t: kind 0 NaN (random payload,
// either sign), 1 +Inf, 2 -Inf; 3.. finite neighbours (largest finite,
// smallest subnormal, -0, either sign)
static uint64_t special(crvq_dtype t, int kind) {
    int w = width_of(t);
    int man = w == 8 ? 52 : t == CRVQ_F32 ? 23 : t == CRVQ_BF16 ? 7 : 10;
    uint64_t sign = (uint64_t)1 << (8 * w - 1), exp = (sign - 1) & ~(((uint64_t)1 << man) - 1);
    uint64_t mant = ((uint64_t)1 << man) - 1, r = next();
    switch (kind) {
    case 0: return (r & 1 ? sign : 0) | exp | (1 + (r >> 1) % mant);
    case 1: return exp;
    case 2: return sign | exp;
    case 3: return (r & 1 ? sign : 0) | (exp - ((uint64_t)1 << man)) | mant; // largest finite
    case 4: return (r & 1 ? sign : 0) | 1;                                // smallest subnormal
    default: return sign;                                                 // -0
    }
}

static void put(crvq_dtype t, uint8_t *p, int64_t i, uint64_t bits) {
    memcpy(p + i * stride_of(t), &bits, (size_t)width_of(t));
}

static void check_case(crvq_dtype t, int64_t count, int offset, int n_special) {
    size_t bytes = (size_t)count * stride_of(t) + 16;
    uint8_t *buf = malloc(bytes), *p = buf + offset;
    for (size_t i = 0; i < bytes; i++) buf[i] = (uint8_t)next();
    for (int64_t i = 0; i < count; i++) { // finite random values (exponent never all ones)
        uint64_t v = next();
        put(t, p, i, v);
        if (!finite_at(t, p, i)) put(t, p, i, special(t, 3));
    }
    for (int s = 0; s < n_special && count; s++) put(t, p, (int64_t)(next() % (uint64_t)count), special(t, (int)(next() % 6)));
    int64_t n = count * per_of(t), want = ref_first(t, p, count), got = crvq_first_nonfinite(t, p, n);
    CHECK_MSG(got == want, "type %d, %lld values at offset %d, %d specials: got %lld, want %lld", (int)t,
              (long long)count, offset, n_special, (long long)got, (long long)want);
    if (want >= 0) {
        const char *name = crvq_nonfinite_name(t, p, want);
        uint64_t bits = 0;
        memcpy(&bits, p + want / per_of(t) * stride_of(t), (size_t)width_of(t));
        int neg = (bits >> (8 * width_of(t) - 1)) & 1;
        int nan = bits != special(t, 1) && bits != special(t, 2);
        CHECK_MSG(strcmp(name, nan ? "NaN" : neg ? "-Inf" : "+Inf") == 0, "name %s", name);
    }
    free(buf);
}

int main(void) {
    const crvq_dtype types[] = {CRVQ_F32, CRVQ_F16, CRVQ_BF16, CRVQ_F64, CRVQ_Q8_0};
    const int64_t counts[] = {0, 1, 7, 4095, 4096, 4097, 3 * 4096 + 5, 300007};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (int offset = 0; offset < 4; offset++)
                for (int k = 0; k < 4; k++) check_case(types[ti], counts[ci], offset, k == 0 ? 0 : k == 1 ? 1 : 5 * k);
    // one special at every position of a short array, each kind
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        crvq_dtype t = types[ti];
        uint8_t buf[40 * 34];
        for (int kind = 0; kind < 6; kind++)
            for (int at = 0; at < 40; at++) {
                for (int i = 0; i < 40; i++) put(t, buf, i, 0);
                put(t, buf, at, special(t, kind));
                int64_t got = crvq_first_nonfinite(t, buf, 40 * per_of(t));
                CHECK_MSG(got == (kind < 3 ? at * per_of(t) : -1), "type %d kind %d at %d: %lld", (int)t, kind, at,
                          (long long)got);
            }
    }
    // integer types hold no NaN; a Q8_0 count short of a block checks nothing
    uint8_t ones[64];
    memset(ones, 0xff, sizeof ones);
    CHECK(crvq_first_nonfinite(CRVQ_I32, ones, 16) == -1 && crvq_first_nonfinite(CRVQ_I8, ones, 64) == -1);
    CHECK(crvq_first_nonfinite(CRVQ_F16, ones, 32) == 0 && crvq_first_nonfinite(CRVQ_Q8_0, ones, 31) == -1);
    return check_done();
}
