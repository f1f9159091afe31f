// cuda_util.h — for the GPU tests: skip (exit 77) with the reason when
// `--device cuda` cannot run here (no GPU, no driver, no cuBLAS, or a build
// without CUDA), and compare a group of GPU results with the CPU's.
// Include after check.h.
#ifndef CRVQ_TEST_CUDA_UTIL_H
#define CRVQ_TEST_CUDA_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "crvq.h"

static inline void test_require_cuda(void) {
    char why[256];
    if (!crvq_backend_available(CRVQ_DEVICE_CUDA, why, sizeof why)) {
        printf("SKIP: --device cuda cannot run here: %s\n", why);
        exit(77);
    }
}

// max |g − c| / max |c| over a group of n values within bound (a NaN
// counts as infinitely far; an all-zero CPU group as a failure).
static inline void check_group(const char *what, const float *g, const float *c, size_t n, double bound) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)g[i] - c[i]);
        d = e == e ? fmax(d, e) : INFINITY;
        s = fmax(s, fabs(c[i]));
    }
    printf("    %-22s %6zu values: max |GPU - CPU| / max |CPU| %.2e (bound %.2e)\n", what, n, d / s, bound);
    CHECK_MSG(s > 0, "%s: the CPU's values are all zero", what);
    CHECK_MSG(d <= bound * s, "%s differ by %g, bound %g", what, d, bound * s);
}

#endif
