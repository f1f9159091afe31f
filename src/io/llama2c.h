// llama2c.h — llama2.c checkpoints (`.bin`, "version 0"): a header of seven
// int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
// a negative vocab_size means the classifier is stored separately), then
// float32 weights, each kind stacked over the layers:
//   token_embedding (vocab, dim), rms_att (L, dim), wq (L, dim, dim),
//   wk (L, kv_dim, dim), wv (L, kv_dim, dim), wo (L, dim, dim), rms_ffn (L, dim),
//   w1 (L, hidden, dim), w2 (L, dim, hidden), w3 (L, hidden, dim), rms_final (dim),
//   freq_cis_real, freq_cis_imag (seq_len, head_size/2 each; unused),
//   [wcls (vocab, dim)]
// with kv_dim = n_kv_heads * dim / n_heads. w1 is the gate, w3 the up
// projection, w2 the down projection. Matrices are (n_out, n_in) row-major
// and q/k rows are in the interleaved RoPE order.
#ifndef CRVQ_LLAMA2C_H
#define CRVQ_LLAMA2C_H

#include "io/tensor.h"

// The header's fields; the model layer turns them into a crvq_config.
typedef struct crvq_llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
    int32_t vocab_size; // the stored value's magnitude (0 for INT_MIN, which has none)
    int32_t seq_len;
    int tied_embeddings; // the stored vocab_size was positive: no separate classifier
} crvq_llama2c_header;

typedef struct crvq_llama2c {
    crvq_llama2c_header header;
    int n_tensors;
    crvq_tensor_view *tensors;  // named as in GGUF llama files: token_embd.weight, blk.N.attn_q.weight, ...
    char *names;                // storage for the tensor names
} crvq_llama2c;

// The header alone; fails only when the file is shorter than it. A loader
// checks the header's bounds (model/config.h) before calling
// crvq_llama2c_parse, so a corrupt header is reported by the field that is
// out of range.
crvq_status crvq_llama2c_read_header(const char *path, const uint8_t *data, size_t size, crvq_llama2c_header *h);

// Parses a checkpoint held in memory (data, size bytes; typically a mapped
// file that outlives the result). Safe on any input: every header field must
// be positive, dim a multiple of n_heads and the file size must match the
// header exactly. Errors name `path`.
crvq_status crvq_llama2c_parse(const char *path, const uint8_t *data, size_t size, crvq_llama2c *out);
void crvq_llama2c_free(crvq_llama2c *c);

#endif
