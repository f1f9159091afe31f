// cuda_block.h — a transformer block's forward on the GPU for the pipeline's
// calibration passes (backend.h's block_forward entry).
#ifndef CRVQ_CUDA_BLOCK_H
#define CRVQ_CUDA_BLOCK_H

#include "crvq.h"

// X (n_seq, seqlen, dim), on the host, replaced by block L's output, every
// sequence from position 0: the function of model/block.c's training shape
// (per-sequence causal attention). hessian_ctx, when not NULL, is a context
// of crvq_cuda_hessian_begin: the tap inputs of the first n_tap_seqs
// sequences are added to it from GPU memory.
crvq_status crvq_cuda_block_forward(const crvq_config *c, const crvq_layer *L, float *X, int n_seq, int seqlen,
                                    int n_tap_seqs, void *hessian_ctx);

#endif
