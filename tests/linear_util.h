// linear_util.h — a check the kernel tests share: two weights of one matrix
// (the file's raw form and the quantizer's layer) behind the forward pass's
// seam. Include after check.h.
#ifndef CRVQ_TEST_LINEAR_UTIL_H
#define CRVQ_TEST_LINEAR_UTIL_H

#include "model/linear.h"

#include <stdlib.h>
#include <string.h>

// a and b (no bias) give bit-identical outputs for one token x drawn from
// unit, and a with a bias (drawn next) adds it exactly.
static inline void test_linear_pair(crvq_linear a, crvq_linear b, float (*unit)(void)) {
    const int n = a.n_out, n_in = a.n_in;
    float *x = malloc(sizeof(float) * n_in), *y = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    float *bias = malloc(sizeof(float) * n), *yl = malloc(sizeof(float) * n);
    for (int j = 0; j < n_in; j++) x[j] = unit();
    crvq_linear_forward(&a, x, 1, y);
    crvq_linear_forward(&b, x, 1, y2);
    CHECK(memcmp(y, y2, sizeof(float) * n) == 0);
    for (int r = 0; r < n; r++) bias[r] = unit();
    a.bias = bias;
    crvq_linear_forward(&a, x, 1, yl);
    for (int r = 0; r < n; r++) CHECK(yl[r] == y[r] + bias[r]);
    free(x);
    free(y);
    free(y2);
    free(bias);
    free(yl);
}

#endif
