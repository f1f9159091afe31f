// forward.h — internal: one transformer block at a time, for the
// quantization pipeline (calibration activations, proxy Hessians).
#ifndef CRVQ_MODEL_FORWARD_H
#define CRVQ_MODEL_FORWARD_H

#include "crvq.h"
#include "model/block.h"

// The rotary angles of positions 0..n_pos-1 with the config's scaling:
// cos, sin (n_pos, head_dim/2). The forward pass and the training code
// (src/train/) both use these tables.
void crvq_rope_tables(const crvq_config *c, int n_pos, float *cos, float *sin);

// CRVQ_ERR_UNSUPPORTED when n_tokens positions would reach past the model's
// sliding attention window (which crvq computes as full attention).
crvq_status crvq_check_window(const crvq_config *c, int n_tokens);

// The residual stream of the state: (max_batch, dim). crvq_block_forward
// reads its first n rows and leaves the block's output there.
float *crvq_state_residual(crvq_state *s);

// Run block l on the n rows of the residual stream at positions pos..pos+n-1
// (the state's cache for layer l holds 0..pos-1): crvq_block_run
// (model/block.h) on the state's buffers. `tap`, if not NULL, is called
// with the input of each group of linear layers.
void crvq_block_forward(const crvq_model *m, crvq_state *s, int l, int n, int pos, crvq_tap_fn tap, void *ctx);

// Layer l's part of the state's KV cache is not needed any more (the
// pipeline is done with block l): its pages leave the resident set and the
// cache there reads as zeros, as after crvq_state_init (util/pages.h). A
// state holds a cache for every layer, (2, n_layers, max_seq, kv_dim)
// floats: 512 MiB for a 32-layer 7B model at 512 positions, which block-by-
// block quantization would otherwise fill one layer at a time.
void crvq_state_release_layer(const crvq_model *m, crvq_state *s, int l);

// A state whose forward runs on a device (backend.h's serve_* entries,
// src/backend/serve.c): crvq_forward checks its arguments as always, then
// calls ops->forward(dev, ...) instead of the host's blocks, and
// crvq_state_free calls ops->close(dev) (ops is copied). Such a state has no host buffers:
// crvq_block_forward and crvq_state_residual are not for it.
typedef struct crvq_state_ops {
    crvq_status (*forward)(void *dev, const int *tokens, int n, int pos, int all_logits, float *logits);
    void (*close)(void *dev);
} crvq_state_ops;

// A state of max_seq_len positions and max_batch tokens per call around a
// device context dev: the state owns dev once this succeeds; after a
// failure the caller still does.
crvq_status crvq_state_init_ops(const crvq_model *m, int max_seq_len, int max_batch, const crvq_state_ops *ops,
                                void *dev, crvq_state **out);

#endif
