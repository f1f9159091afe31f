// hf_config.c — config.json from a crvq_config (the inverse of
// crvq_config_from_hf_json).
#include "container/hf_config.h"
#include "model/config.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A float as the shortest decimal that reads back as the same float (1e-05,
// not 9.99999974737875e-06): what config.json files say.
static void add_float(cJSON *o, const char *key, float v) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    // a number JSON can spell: "1e-05" and "10000" are, ".5" is not (and %g never writes it)
    cJSON_AddRawToObject(o, key, buf);
}

static const char *class_name(crvq_arch a) {
    switch (a) {
    case CRVQ_ARCH_MISTRAL: return "MistralForCausalLM";
    case CRVQ_ARCH_QWEN2: return "Qwen2ForCausalLM";
    case CRVQ_ARCH_QWEN3: return "Qwen3ForCausalLM";
    default: return "LlamaForCausalLM";
    }
}

// rope_scaling: null, {"rope_type": "linear", "factor"} or Llama-3.1's
// {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
// "original_max_position_embeddings"}.
static void add_rope(cJSON *root, const crvq_config *c) {
    add_float(root, "rope_theta", c->rope_theta);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_NONE) {
        cJSON_AddNullToObject(root, "rope_scaling");
        return;
    }
    cJSON *rs = cJSON_AddObjectToObject(root, "rope_scaling");
    if (!rs) return;
    cJSON_AddStringToObject(rs, "rope_type", crvq_rope_scaling_name(c->rope_scaling));
    add_float(rs, "factor", c->rope_factor);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        add_float(rs, "low_freq_factor", c->rope_low_freq_factor);
        add_float(rs, "high_freq_factor", c->rope_high_freq_factor);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_max_pos);
    }
}

// Each architecture's switches, spelled as its transformers config class
// spells them: Qwen2 always has q/k/v biases (no key), Llama's are off.
static void add_features(cJSON *root, const crvq_config *c) {
    cJSON_AddStringToObject(root, "hidden_act", "silu");
    if (c->arch == CRVQ_ARCH_LLAMA || c->arch == CRVQ_ARCH_MISTRAL || c->arch == CRVQ_ARCH_QWEN3)
        cJSON_AddFalseToObject(root, "attention_bias");
    if (c->arch == CRVQ_ARCH_LLAMA) cJSON_AddFalseToObject(root, "mlp_bias");
    if (c->arch == CRVQ_ARCH_MISTRAL) {
        if (c->sliding_window > 0) cJSON_AddNumberToObject(root, "sliding_window", c->sliding_window);
        else cJSON_AddNullToObject(root, "sliding_window");
    }
    if (c->arch == CRVQ_ARCH_QWEN2 || c->arch == CRVQ_ARCH_QWEN3) cJSON_AddFalseToObject(root, "use_sliding_window");
    if (c->bos_id >= 0) cJSON_AddNumberToObject(root, "bos_token_id", c->bos_id);
    if (c->eos_id >= 0) cJSON_AddNumberToObject(root, "eos_token_id", c->eos_id);
}

crvq_status crvq_config_to_hf_json(const crvq_config *c, const char *torch_dtype, char **out, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    cJSON *archs = root ? cJSON_AddArrayToObject(root, "architectures") : NULL;
    if (!archs) {
        cJSON_Delete(root);
        return crvq_fail(CRVQ_ERR_NOMEM, "config.json: out of memory");
    }
    cJSON_AddItemToArray(archs, cJSON_CreateString(class_name(c->arch)));
    cJSON_AddStringToObject(root, "model_type", crvq_arch_name(c->arch));
    const struct {
        const char *key;
        int v;
    } sizes[] = {{"hidden_size", c->dim},          {"intermediate_size", c->hidden_dim},
                 {"num_hidden_layers", c->n_layers}, {"num_attention_heads", c->n_heads},
                 {"num_key_value_heads", c->n_kv_heads}, {"head_dim", c->head_dim},
                 {"vocab_size", c->vocab_size},    {"max_position_embeddings", c->max_seq_len}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) cJSON_AddNumberToObject(root, sizes[i].key, sizes[i].v);
    add_float(root, "rms_norm_eps", c->norm_eps);
    add_rope(root, c);
    cJSON_AddBoolToObject(root, "tie_word_embeddings", c->tied_embeddings);
    add_features(root, c);
    cJSON_AddStringToObject(root, "torch_dtype", torch_dtype);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    size_t n = text ? strlen(text) : 0;
    char *buf = text ? realloc(text, n + 2) : NULL;
    if (!buf) {
        free(text);
        return crvq_fail(CRVQ_ERR_NOMEM, "config.json: out of memory");
    }
    buf[n] = '\n';
    buf[n + 1] = 0;
    *out = buf;
    *len = n + 1;
    return CRVQ_OK;
}
