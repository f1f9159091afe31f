// block_params.h — the trainable parameters of one transformer block laid
// out in a flat float32 vector, and a view of the block that computes with
// that vector: what block fine-tuning (block_ft.c) and end-to-end
// distillation (e2e.c) both train.
//
// For each VQ / CRVQ projection in block order: its codebooks then its row
// scales; then attn_norm, ffn_norm. The view is a copy of the layer whose VQ
// projections point at shadow runtime weights and whose norms point into the
// vector, so an optimizer step on the vector changes what the next forward
// computes with no copying (only the transposed codebooks that the look-up
// kernels read must be refreshed: crvq_block_params_sync). Codes,
// permutations, biases, dense and scalar projections are shared with the
// model and frozen.
#ifndef CRVQ_TRAIN_BLOCK_PARAMS_H
#define CRVQ_TRAIN_BLOCK_PARAMS_H

#include <stddef.h>

#include "crvq.h"
#include "kernels/vq_weights.h"
#include "train/block_grad.h"

typedef struct crvq_block_params {
    crvq_layer view;                     // the block as trained
    crvq_vq_weights shadow[CRVQ_PROJ_COUNT];  // VQ projections' trained weights (shallow copies)
    int is_vq[CRVQ_PROJ_COUNT];
    size_t off_cb[CRVQ_PROJ_COUNT][CRVQ_MAX_CODEBOOKS], off_sc[CRVQ_PROJ_COUNT];
    size_t off_attn, off_ffn;            // offsets into the flat vector
    size_t begin, end;                   // the block's range [begin, end) of the vector
    size_t n_cbt;                        // floats of transposed codebooks the view needs
} crvq_block_params;

// Lay the block's parameters out from offset `begin` of a flat vector;
// bp->end is where the next block may start.
void crvq_block_params_layout(crvq_block_params *bp, const crvq_config *c, const crvq_layer *L,
                              size_t begin);

// Copy the block's current parameters into params (the whole flat vector)
// and point the view at it; cbt (bp->n_cbt floats) receives the transposed
// codebooks. params and cbt must outlive the view.
void crvq_block_params_bind(crvq_block_params *bp, const crvq_layer *L, float *params, float *cbt);

// Refresh the view's transposed codebooks after params changed.
void crvq_block_params_sync(crvq_block_params *bp, const float *params);

// Round the block's codebooks and scales in params to fp16 (what the
// container stores; the norms are stored as float32 and stay) and sync.
void crvq_block_params_round_fp16(crvq_block_params *bp, float *params);

// Point g at the block's slots of the flat gradient vector grad.
void crvq_block_params_grad(const crvq_block_params *bp, float *grad, crvq_ft_grad *g);

// Write the block's parameters from params into block l of m: norms into new
// buffers owned by m->storage (the old ones may be read-only mapped memory;
// the only step that can fail, done first), codebooks and scales into the
// VQ runtime weights, rounded to fp16 (crvq_vq_weights_set).
crvq_status crvq_block_params_write(const crvq_block_params *bp, crvq_model *m, int l, const float *params);

#endif
