// block_proj.h — the seven projections of a transformer block as data: one
// enum, one table with the names every file family gives them, their shape
// and the input they read. Whatever walks a block's linear layers (loading,
// the container and its checkpoint, quantization, fine-tuning, info, bench)
// loops over this table, so a projection's names and properties are written
// once (as llama.cpp's tensor enum + name table, llm.c's parameter arrays).
#ifndef CRVQ_MODEL_BLOCK_PROJ_H
#define CRVQ_MODEL_BLOCK_PROJ_H

#include "crvq.h"

#include <stddef.h>

// The enum crvq_proj and the public accessors (names, shape, a layer's
// projection) are in crvq.h; the table and the inline accessors for the
// library's own loops are here.

// The widths a projection's shape is made of.
typedef enum crvq_width {
    CRVQ_WIDTH_DIM,    // dim
    CRVQ_WIDTH_Q,      // n_heads * head_dim
    CRVQ_WIDTH_KV,     // n_kv_heads * head_dim
    CRVQ_WIDTH_HIDDEN, // hidden_dim
} crvq_width;

typedef struct crvq_proj_info {
    const char *field; // crvq_layer's member and `crvq info`'s name: "wq"
    const char *gguf;  // GGUF (llama.cpp) and llama2.c: blk.N.<gguf>.weight, "attn_q"
    const char *hf;    // Hugging Face: model.layers.N.<hf>.weight, "self_attn.q_proj"
    size_t offset;     // offsetof(crvq_layer, <field>)
    crvq_width n_out;  // rows; the columns are the width of its tap
    int tap;           // CRVQ_TAP_* (model/forward.h): the activations it reads. Projections
                       // reading the same ones (q, k, v; gate, up) share one proxy Hessian.
    const char *bias;  // `crvq info`'s name of its bias in qkv_bias (Qwen2) models: "bq"; NULL: none
    int rope;          // its rows feed RoPE, so GGUF stores them interleaved where Hugging
                       // Face splits each head in halves (docs/format.md): q, k
} crvq_proj_info;

extern const crvq_proj_info crvq_proj_table[CRVQ_PROJ_COUNT];

static inline crvq_linear *crvq_block_proj(crvq_layer *L, crvq_proj p) {
    return (crvq_linear *)((char *)L + crvq_proj_table[p].offset);
}

// Its read-only twin is the public crvq_layer_proj (crvq.h).

int crvq_config_width(const crvq_config *c, crvq_width w);

// Columns of the inputs tap `t` sees: the n_in of the projections reading it.
int crvq_tap_width(const crvq_config *c, int t);

#endif
