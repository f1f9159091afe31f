// config.h — crvq_config from a Hugging Face config.json or GGUF metadata,
// and the bounds every loader checks before it sizes anything from a file
// header.
#ifndef CRVQ_CONFIG_H
#define CRVQ_CONFIG_H

#include "crvq.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h" // CRVQ_MAX_VOCAB: the tokenizer readers check it too

// Upper bounds (with CRVQ_MAX_VOCAB of tokenizer/tokenizer.h): generous for
// real LLaMA-family models (Llama-3.1-405B has dim 16384, hidden 53248, vocab
// 128256), small enough that every product of them used for sizes fits in
// int64 and a corrupt header fails here rather than in a huge allocation.
#define CRVQ_MAX_DIM 65536
#define CRVQ_MAX_HIDDEN_DIM 262144
#define CRVQ_MAX_LAYERS 1024
#define CRVQ_MAX_HEADS 1024
#define CRVQ_MAX_HEAD_DIM 1024
#define CRVQ_MAX_SEQ_LEN (1 << 24)

// Defaults for fields a file may leave out: no scaling, theta 10000,
// eps 1e-5, half-split RoPE, no special tokens.
void crvq_config_init(crvq_config *c);

// Checks ranges and divisibility; errors are "WHAT: PROBLEM".
crvq_status crvq_config_validate(const crvq_config *c, const char *what);

// Parse config.json text (len bytes) into c and validate it. `what` names the
// file in errors. Unknown architectures and features crvq does not implement
// (other RoPE scalings, biases on llama layers, sliding windows) are
// CRVQ_ERR_UNSUPPORTED.
crvq_status crvq_config_from_hf_json(const char *text, size_t len, const char *what, crvq_config *c);

// GGUF metadata of general.architecture "llama", "qwen2" or "qwen3"
// (<arch>.embedding_length, <arch>.block_count, ...): the q/k row order
// llama.cpp gives that architecture, qwen2's q/k/v biases, qwen3's q/k norms, vocab from <arch>.vocab_size, the
// tokenizer.ggml.tokens count or token_embd.weight, linear and llama3 RoPE
// scaling (<arch>.rope.scaling.*). Other architectures, partial rotary
// dimensions, rope_freqs.weight and other RoPE scalings are
// CRVQ_ERR_UNSUPPORTED.
crvq_status crvq_config_from_gguf(const crvq_gguf *g, crvq_config *c);

// A hash of every field the forward pass reads (not the context length or
// bos/eos, which change no computed number), for run identities.
uint64_t crvq_config_digest(const crvq_config *c, uint64_t seed);

// The general.architecture a GGUF file of architecture a has (Mistral is
// "llama", as llama.cpp writes it) and the RoPE layout of its q/k rows there
// (*style); NULL for an architecture GGUF files cannot hold.
const char *crvq_gguf_arch_name(crvq_arch a, crvq_rope_style *style);
// crvq_arch_name and crvq_rope_scaling_name are public (crvq.h).

#endif
