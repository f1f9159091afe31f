// cuda_serve.h — a model resident on the GPU for serving (backend.h's
// serve_open / serve_forward / serve_close; docs/cuda.md, "Serving").
//
// Open uploads every linear layer once in the form its file stores it
// (cuda_serve_linear.h), the norms and RoPE tables, and makes a float32 KV
// cache of max_seq positions for every layer. Forward runs n tokens at
// positions pos..pos+n−1 as crvq_forward does (model/forward.c): the
// embedding rows are gathered on the host and uploaded (n·dim floats), the
// blocks and the head run on the GPU, the logits come back in one copy.
#ifndef CRVQ_CUDA_SERVE_H
#define CRVQ_CUDA_SERVE_H

#include <stddef.h>

#include "crvq.h"

crvq_status crvq_cuda_serve_open(const crvq_model *m, int max_seq, int max_batch, void **ctx);
crvq_status crvq_cuda_serve_forward(void *ctx, const int *tokens, int n, int pos, int all_logits, float *logits);
void crvq_cuda_serve_close(void *ctx);
// GPU memory of the resident weights (linear layers as stored, norms) and
// of the KV cache, in bytes.
void crvq_cuda_serve_bytes(const void *ctx, size_t *weights, size_t *kv_cache);

#endif
