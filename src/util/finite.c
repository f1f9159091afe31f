// finite.c — the non-finite scan (see finite.h).
//
// Each chunk is reduced to the largest magnitude bit pattern (sign bit
// cleared) with a max over unsigned integers, which compilers vectorize
// (no float compare, so -ftrapping-math does not keep it scalar); only a
// chunk whose maximum reaches the all-ones exponent is searched element by
// element for the first offender.
#include "util/finite.h"

#include "util/threads.h"

#include <string.h>

#define CHUNK 4096 // elements per reduction: small enough to stay in L1 when rescanned

// The largest |bit pattern| of chunk [i0, i0 + len) of `width`-byte elements,
// masked to clear the sign bit, compared with `limit`, the pattern of +Inf.
static int chunk_bad(const uint8_t *p, int width, int64_t stride, int64_t len, uint64_t limit) {
    switch (width) {
    case 2: {
        uint16_t mx = 0;
#pragma omp simd reduction(max : mx)
        for (int64_t i = 0; i < len; i++) {
            uint16_t u;
            memcpy(&u, p + i * stride, 2);
            u &= 0x7fff;
            mx = u > mx ? u : mx;
        }
        return mx >= limit;
    }
    case 4: {
        uint32_t mx = 0;
#pragma omp simd reduction(max : mx)
        for (int64_t i = 0; i < len; i++) {
            uint32_t u;
            memcpy(&u, p + i * stride, 4);
            u &= 0x7fffffffu;
            mx = u > mx ? u : mx;
        }
        return mx >= limit;
    }
    default: {
        uint64_t mx = 0;
#pragma omp simd reduction(max : mx)
        for (int64_t i = 0; i < len; i++) {
            uint64_t u;
            memcpy(&u, p + i * stride, 8);
            u &= 0x7fffffffffffffffull;
            mx = u > mx ? u : mx;
        }
        return mx >= limit;
    }
    }
}

// Bits of element i (sign bit cleared).
static uint64_t magnitude(const uint8_t *p, int width, int64_t stride, int64_t i) {
    uint64_t u = 0;
    memcpy(&u, p + i * stride, (size_t)width); // little-endian host, as everywhere in crvq
    return u & ~((uint64_t)1 << (8 * width - 1));
}

// The layout of the checked values of type t: width bytes every stride
// bytes, +Inf's pattern, and how many elements each checked value stands for.
static int layout(crvq_dtype t, int *width, int64_t *stride, uint64_t *inf, int64_t *per) {
    *per = 1;
    switch (t) {
    case CRVQ_F32: *width = 4, *stride = 4, *inf = 0x7f800000u; return 1;
    case CRVQ_F16: *width = 2, *stride = 2, *inf = 0x7c00u; return 1;
    case CRVQ_BF16: *width = 2, *stride = 2, *inf = 0x7f80u; return 1;
    case CRVQ_F64: *width = 8, *stride = 8, *inf = 0x7ff0000000000000ull; return 1;
    case CRVQ_Q8_0: *width = 2, *stride = 34, *inf = 0x7c00u, *per = 32; return 1; // f16 scale, 32 int8
    default: return 0;
    }
}

int64_t crvq_first_nonfinite(crvq_dtype t, const void *data, int64_t n) {
    int width;
    int64_t stride, per;
    uint64_t inf;
    if (!layout(t, &width, &stride, &inf, &per) || n <= 0) return -1;
    const uint8_t *p = data;
    const int64_t count = n / per, n_chunks = (count + CHUNK - 1) / CHUNK;
    int64_t first = INT64_MAX; // first bad checked value
#pragma omp parallel for schedule(static) reduction(min : first) if (count >= CRVQ_PAR_MIN_WORK)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t i0 = c * CHUNK, len = count - i0 < CHUNK ? count - i0 : CHUNK;
        if (i0 >= first || !chunk_bad(p + i0 * stride, width, stride, len, inf)) continue;
        for (int64_t i = i0; i < i0 + len; i++)
            if (magnitude(p, width, stride, i) >= inf) {
                first = i < first ? i : first;
                break;
            }
    }
    return first == INT64_MAX ? -1 : first * per;
}

const char *crvq_nonfinite_name(crvq_dtype t, const void *data, int64_t i) {
    int width;
    int64_t stride, per;
    uint64_t inf;
    if (!layout(t, &width, &stride, &inf, &per)) return "finite";
    const uint8_t *p = data;
    uint64_t u = 0;
    memcpy(&u, p + i / per * stride, (size_t)width);
    int negative = (u >> (8 * width - 1)) & 1;
    uint64_t mag = magnitude(p, width, stride, i / per);
    return mag > inf ? "NaN" : mag == inf ? (negative ? "-Inf" : "+Inf") : "finite";
}
