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

// The formats are usable for m (checked before any time is spent).
crvq_status crvq_pipeline_head_check(const crvq_model *m, const crvq_pipeline_opts *o);

// "qN" (N in 2..8, group 128) or "qNgG" into f's bits and group size; "f16"
// or "none": bits 0 (left as it is). f->method is not touched. 0, or -1 for
// any other text (nothing written then).
int crvq_tensor_fmt_parse(const char *v, crvq_tensor_fmt *f);

// The quantizer settings a tensor format stands for (seed: the run's).
void crvq_tensor_fmt_params(const crvq_tensor_fmt *f, uint64_t seed, crvq_quant_params *p);

#endif
