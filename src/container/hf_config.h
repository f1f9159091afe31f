// hf_config.h — a Hugging Face config.json for a crvq_config: the keys
// model/config.c reads, written back with the values crvq computes with, so
// that crvq and transformers' LlamaConfig / MistralConfig / Qwen2Config /
// Qwen3Config read the same model from it.
#ifndef CRVQ_HF_CONFIG_H
#define CRVQ_HF_CONFIG_H

#include "crvq.h"

#include <stddef.h>

// torch_dtype: "bfloat16", "float16" or "float32". *out (malloc'd, *len
// bytes) is pretty-printed JSON ending in a newline.
crvq_status crvq_config_to_hf_json(const crvq_config *c, const char *torch_dtype, char **out, size_t *len);

#endif
