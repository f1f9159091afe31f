// quant_util.h — the small quantizer settings the whole-model tests (and the
// fuzz seed writer) share, so that "a tiny CRVQ run on stories260K" means
// the same codebooks everywhere.
#ifndef CRVQ_TEST_QUANT_UTIL_H
#define CRVQ_TEST_QUANT_UTIL_H

#include "crvq.h"

// Two small codebooks for stories260K-sized layers (its hidden size 172
// takes d = 4): 2^6 and 2^4 codewords, channel relaxation at λ = 0.25.
static inline void test_small_codebooks(crvq_quant_params *qp) {
    qp->d = 4;
    qp->M = 2;
    qp->e[0] = 6;
    qp->e[1] = 4;
    qp->lambda = 0.25;
}

// test_small_codebooks with few alternating rounds and Lloyd iterations:
// a whole model quantizes in seconds.
static inline void test_small_vq(crvq_quant_params *qp) {
    test_small_codebooks(qp);
    qp->max_rounds = 3;
    qp->kmeans_iters = 4;
}

#endif
