// head.h — the output head and the token embedding after the blocks
// (crvq quantize --head / --embeddings; crvq.h, crvq_tensor_fmt).
#ifndef CRVQ_PIPELINE_HEAD_H
#define CRVQ_PIPELINE_HEAD_H

#include "crvq.h"

// Quantize what o->head and o->embed ask for. X (n_train, seqlen, dim) are
// the outputs of the last (quantized) block for the training windows: the
// head's inputs are their final-norm outputs, H = XᵀX/N over all their rows.
// A tied head quantized becomes a separate tensor (cfg.tied_embeddings = 0);
// a tied head not quantized reads the quantized embedding. *rel_loss: the
// head's L(Ŵ)/L(0) against H (0 when the head is left as it is).
crvq_status crvq_pipeline_head(crvq_model *m, const crvq_pipeline_opts *o, const float *X, int n_train,
                               int seqlen, double *rel_loss);

// The formats' parsing, parameters and checks are public (crvq.h, beside
// crvq_tensor_fmt).

#endif
