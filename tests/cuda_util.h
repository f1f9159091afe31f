// cuda_util.h — for the GPU tests: skip (exit 77) with the reason when
// `--device cuda` cannot run here (no GPU, no driver, no cuBLAS, or a build
// without CUDA). Include after check.h.
#ifndef CRVQ_TEST_CUDA_UTIL_H
#define CRVQ_TEST_CUDA_UTIL_H

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

#endif
