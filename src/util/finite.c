// finite.c — the non-finite scan (see finite.h).
//
// A magnitude m (sign bit cleared) is not finite when m >= inf, the pattern
// of +Inf; m + (sign - inf) then reaches the sign bit. Each chunk is reduced
// with an OR of those sums, integer adds and ORs that compilers vectorize on
// any x86-64 (no float compare, which -ftrapping-math keeps scalar; no
// unsigned max, which SSE2 lacks); only a chunk whose OR has the sign bit is
// searched element by element for the first offender.
#include "util/finite.h"

#include "util/threads.h"

#include <string.h>

#define CHUNK 4096 // elements per reduction: small enough to stay in L1 when rescanned

// NAME(p, len, inf): whether chunk [0, len) of W-bit values STRIDE bytes
// apart holds a magnitude >= inf. The stride is a constant, so contiguous
// data is read with whole-vector loads (a run-time stride makes a gather).
#define CHUNK_BAD(NAME, W, STRIDE)                                                             \
    static int NAME(const uint8_t *p, int64_t len, uint64_t inf) {                             \
        const uint##W##_t sign = (uint##W##_t)1 << (W - 1), add = (uint##W##_t)(sign - inf);  \
        uint##W##_t acc = 0;                                                                   \
        _Pragma("omp simd reduction(| : acc)") for (int64_t i = 0; i < len; i++) {             \
            uint##W##_t u;                                                                     \
            memcpy(&u, p + i * (STRIDE), sizeof u);                                            \
            acc |= (uint##W##_t)((u & (uint##W##_t)(sign - 1)) + add);                         \
        }                                                                                      \
        return (acc & sign) != 0;                                                              \
    }
CHUNK_BAD(chunk_bad_16, 16, 2)
CHUNK_BAD(chunk_bad_32, 32, 4)
CHUNK_BAD(chunk_bad_64, 64, 8)
CHUNK_BAD(chunk_bad_q8_0, 16, 34) // the f16 scale of each 34-byte block

static int chunk_bad(const uint8_t *p, int width, int64_t stride, int64_t len, uint64_t inf) {
    if (stride == 34) return chunk_bad_q8_0(p, len, inf);
    return width == 2 ? chunk_bad_16(p, len, inf) : width == 4 ? chunk_bad_32(p, len, inf) : chunk_bad_64(p, len, inf);
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
