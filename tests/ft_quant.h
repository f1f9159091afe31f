// ft_quant.h — for the fine-tuning tests: quantize block l of a small
// model in place as the pipeline would store it, H = I: CRVQ (d 4, two
// 4-bit codebooks, a quarter of the channels critical) on every projection
// but w_up, which gets RTN, and `dense` (a crvq_proj, or -1), left as it
// is. The quantized weights are owned by m->storage; the dense weights
// they replace are not freed. Include after check.h.
#ifndef CRVQ_TEST_FT_QUANT_H
#define CRVQ_TEST_FT_QUANT_H

#include <stdlib.h>

#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/storage.h"

static inline void ft_quantize_block(crvq_model *m, int l, int dense) {
    crvq_layer *L = &m->layers[l];
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (i == dense) continue;
        crvq_linear *lin = crvq_block_proj(L, i);
        const int no = lin->n_out, ni = lin->n_in;
        double *H = calloc((size_t)ni * ni, sizeof *H);
        for (int j = 0; j < ni; j++) H[(size_t)j * ni + j] = 1.0;
        crvq_quant_params qp;
        crvq_quant_params_default(&qp, i == CRVQ_PROJ_UP ? CRVQ_METHOD_RTN : CRVQ_METHOD_CRVQ);
        qp.d = 4, qp.M = 2, qp.e[0] = qp.e[1] = 4, qp.lambda = 0.25, qp.max_rounds = 4, qp.group_size = 16;
        crvq_quant_result res;
        CHECK_MSG(crvq_quantize_matrix(lin->w, no, ni, H, &qp, &res) == CRVQ_OK, "%s", crvq_last_error());
        if (i == CRVQ_PROJ_UP) {
            crvq_scalar_weights *W = NULL;
            CHECK(crvq_scalar_weights_from_layer(&res.scalar, "up", &W) == CRVQ_OK);
            crvq_scalar_weights_take(W, &res.scalar);
            CHECK(crvq_storage_own(m->storage, W, (void (*)(void *))crvq_scalar_weights_free) == CRVQ_OK);
            *lin = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = no, .n_in = ni, .sq = W, .bias = lin->bias};
        } else {
            crvq_vq_weights *W = NULL;
            CHECK(crvq_vq_weights_from_layer(&res.vq, "vq", &W) == CRVQ_OK);
            crvq_vq_weights_take(W, &res.vq);
            CHECK(crvq_storage_own(m->storage, W, (void (*)(void *))crvq_vq_weights_free) == CRVQ_OK);
            *lin = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = no, .n_in = ni, .vq = W, .bias = lin->bias};
        }
        crvq_quant_result_free(&res);
        free(H);
    }
}

#endif
