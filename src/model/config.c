// config.c — Hugging Face config.json or GGUF metadata -> crvq_config, and
// config validation.
#include "model/config.h"

#include "io/json.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/printable.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *crvq_arch_name(crvq_arch a) {
    switch (a) {
    case CRVQ_ARCH_LLAMA: return "llama";
    case CRVQ_ARCH_MISTRAL: return "mistral";
    case CRVQ_ARCH_QWEN2: return "qwen2";
    case CRVQ_ARCH_QWEN3: return "qwen3";
    }
    return "unknown";
}

const char *crvq_rope_scaling_name(crvq_rope_scaling s) {
    switch (s) {
    case CRVQ_ROPE_SCALING_NONE: return "none";
    case CRVQ_ROPE_SCALING_LINEAR: return "linear";
    case CRVQ_ROPE_SCALING_LLAMA3: return "llama3";
    }
    return "unknown";
}

void crvq_config_init(crvq_config *c) {
    memset(c, 0, sizeof *c);
    c->arch = CRVQ_ARCH_LLAMA;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->rope_style = CRVQ_ROPE_HALF;
    c->rope_scaling = CRVQ_ROPE_SCALING_NONE;
    c->rope_factor = 1.0f;
    c->bos_id = -1;
    c->eos_id = -1;
}

static crvq_status check_range(const char *what, const char *field, long long v, long long lo, long long hi) {
    if (v < lo || v > hi)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s = %lld is out of range [%lld, %lld]", what, field, v, lo, hi);
    return CRVQ_OK;
}

crvq_status crvq_config_validate(const crvq_config *c, const char *what) {
    crvq_status st;
    if ((st = check_range(what, "dim", c->dim, 1, CRVQ_MAX_DIM)) ||
        (st = check_range(what, "hidden_dim", c->hidden_dim, 1, CRVQ_MAX_HIDDEN_DIM)) ||
        (st = check_range(what, "n_layers", c->n_layers, 1, CRVQ_MAX_LAYERS)) ||
        (st = check_range(what, "n_heads", c->n_heads, 1, CRVQ_MAX_HEADS)) ||
        (st = check_range(what, "n_kv_heads", c->n_kv_heads, 1, c->n_heads)) ||
        (st = check_range(what, "head_dim", c->head_dim, 2, CRVQ_MAX_HEAD_DIM)) ||
        (st = check_range(what, "vocab_size", c->vocab_size, 1, CRVQ_MAX_VOCAB)) ||
        (st = check_range(what, "max_seq_len", c->max_seq_len, 1, CRVQ_MAX_SEQ_LEN)) ||
        (st = check_range(what, "sliding_window", c->sliding_window, 0, CRVQ_MAX_SEQ_LEN)) ||
        (st = check_range(what, "bos_id", c->bos_id, -1, c->vocab_size - 1)) ||
        (st = check_range(what, "eos_id", c->eos_id, -1, c->vocab_size - 1)))
        return st;
    if (c->n_heads % c->n_kv_heads)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", what,
                         c->n_heads, c->n_kv_heads);
    // RoPE rotates pairs of channels.
    if (c->head_dim % 2)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: head_dim %d is odd", what, c->head_dim);
    if (!(c->norm_eps > 0 && c->norm_eps < 1))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: rms norm epsilon %g is not in (0, 1)", what, c->norm_eps);
    if (!(c->rope_theta > 0 && isfinite(c->rope_theta)))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: rope theta %g is not a positive number", what, c->rope_theta);
    if (c->rope_scaling != CRVQ_ROPE_SCALING_NONE && !(c->rope_factor > 0 && isfinite(c->rope_factor)))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: rope scaling factor %g is not a positive number", what,
                         c->rope_factor);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        if (!(c->rope_low_freq_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor &&
              isfinite(c->rope_high_freq_factor)))
            return crvq_fail(CRVQ_ERR_FORMAT,
                             "%s: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got %g and %g",
                             what, c->rope_low_freq_factor, c->rope_high_freq_factor);
        if ((st = check_range(what, "rope original_max_position_embeddings", c->rope_original_max_pos, 1,
                              CRVQ_MAX_SEQ_LEN)))
            return st;
    }
    return CRVQ_OK;
}

// ------------------------------------------------------------ config.json ---

// Absent keys and JSON null both mean "use the default".
static const cJSON *get(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static crvq_status get_int(const cJSON *obj, const char *key, int required, int *out, const char *what) {
    const cJSON *v = get(obj, key);
    if (!v) return required ? crvq_fail(CRVQ_ERR_FORMAT, "%s: missing key \"%s\"", what, key) : CRVQ_OK;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 2147483647.0)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not an integer", what, key);
    *out = (int)d;
    return CRVQ_OK;
}

static crvq_status get_float(const cJSON *obj, const char *key, float *out, const char *what) {
    const cJSON *v = get(obj, key);
    if (!v) return CRVQ_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not a number", what, key);
    *out = (float)v->valuedouble;
    return CRVQ_OK;
}

static crvq_status get_bool(const cJSON *obj, const char *key, int *out, const char *what) {
    const cJSON *v = get(obj, key);
    if (!v) return CRVQ_OK;
    if (!cJSON_IsBool(v)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not true or false", what, key);
    *out = cJSON_IsTrue(v);
    return CRVQ_OK;
}

// bos/eos: a number, or a list whose first entry is used (Llama 3.1 lists
// several end-of-sequence ids).
static crvq_status get_token_id(const cJSON *obj, const char *key, int *out, const char *what) {
    const cJSON *v = get(obj, key);
    if (v && cJSON_IsArray(v)) {
        v = cJSON_GetArrayItem(v, 0);
        if (!v) return CRVQ_OK;
    }
    if (!v) return CRVQ_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 2147483647.0)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not a token id", what, key);
    *out = (int)v->valuedouble;
    return CRVQ_OK;
}

// RoPE scaling, in either layout: transformers 5 `rope_parameters`
// {rope_theta, rope_type, ...} or the older `rope_scaling` {type|rope_type, ...}.
static crvq_status parse_rope(const cJSON *root, crvq_config *c, const char *what) {
    crvq_status st;
    if ((st = get_float(root, "rope_theta", &c->rope_theta, what))) return st;
    const cJSON *rp = get(root, "rope_parameters");
    const cJSON *rs = rp ? rp : get(root, "rope_scaling");
    if (!rs) return CRVQ_OK;
    const char *key = rp ? "rope_parameters" : "rope_scaling";
    if (!cJSON_IsObject(rs)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not an object", what, key);
    if (rp && (st = get_float(rp, "rope_theta", &c->rope_theta, what))) return st;
    const cJSON *type = get(rs, "rope_type");
    if (!type) type = get(rs, "type");
    const char *t = "default";
    if (type) {
        if (!cJSON_IsString(type)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s.rope_type is not a string", what, key);
        t = type->valuestring;
    }
    if (strcmp(t, "default") == 0) return CRVQ_OK;
    if (strcmp(t, "linear") == 0) c->rope_scaling = CRVQ_ROPE_SCALING_LINEAR;
    else if (strcmp(t, "llama3") == 0) c->rope_scaling = CRVQ_ROPE_SCALING_LLAMA3;
    else {
        char buf[64];
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: unsupported rope type \"%s\"", what,
                         crvq_printable(buf, sizeof buf, t, strlen(t)));
    }
    c->rope_factor = 0; // required below: 0 fails validation
    if ((st = get_float(rs, "factor", &c->rope_factor, what))) return st;
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        if ((st = get_float(rs, "low_freq_factor", &c->rope_low_freq_factor, what)) ||
            (st = get_float(rs, "high_freq_factor", &c->rope_high_freq_factor, what)) ||
            (st = get_int(rs, "original_max_position_embeddings", 1, &c->rope_original_max_pos, what)))
            return st;
    }
    return CRVQ_OK;
}

static crvq_status parse_arch(const cJSON *root, crvq_config *c, const char *what) {
    const cJSON *archs = get(root, "architectures");
    const char *name = NULL;
    if (archs) {
        const cJSON *a0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
        if (!cJSON_IsString(a0))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"architectures\" is not a list of strings", what);
        name = a0->valuestring;
    } else {
        const cJSON *mt = get(root, "model_type");
        if (!mt) return crvq_fail(CRVQ_ERR_FORMAT, "%s: neither \"architectures\" nor \"model_type\" is given", what);
        if (!cJSON_IsString(mt)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"model_type\" is not a string", what);
        name = mt->valuestring;
    }
    if (!strcmp(name, "LlamaForCausalLM") || !strcmp(name, "llama")) c->arch = CRVQ_ARCH_LLAMA;
    else if (!strcmp(name, "MistralForCausalLM") || !strcmp(name, "mistral")) c->arch = CRVQ_ARCH_MISTRAL;
    else if (!strcmp(name, "Qwen2ForCausalLM") || !strcmp(name, "qwen2")) c->arch = CRVQ_ARCH_QWEN2;
    else if (!strcmp(name, "Qwen3ForCausalLM") || !strcmp(name, "qwen3")) c->arch = CRVQ_ARCH_QWEN3;
    else {
        char buf[96];
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: unsupported architecture %s", what,
                         crvq_printable(buf, sizeof buf, name, strlen(name)));
    }
    return CRVQ_OK;
}

// Features of the supported architectures that crvq's forward pass does not
// implement: refuse them rather than compute something else.
static crvq_status check_features(const cJSON *root, const crvq_config *c, const char *what) {
    crvq_status st;
    int attn_bias = 0, mlp_bias = 0, sliding = 0;
    if ((st = get_bool(root, "attention_bias", &attn_bias, what)) ||
        (st = get_bool(root, "mlp_bias", &mlp_bias, what)))
        return st;
    if ((c->arch == CRVQ_ARCH_QWEN2 || c->arch == CRVQ_ARCH_QWEN3) &&
        (st = get_bool(root, "use_sliding_window", &sliding, what)))
        return st;
    if (c->arch != CRVQ_ARCH_QWEN2 && attn_bias)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: attention_bias = true is not supported", what);
    if (mlp_bias) return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: mlp_bias = true is not supported", what);
    if (sliding) return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: use_sliding_window = true is not supported", what);
    const cJSON *act = get(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0)) {
        char buf[64];
        const char *s = cJSON_IsString(act) ? act->valuestring : "(not a string)";
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: hidden_act %s is not supported (only silu)", what,
                         crvq_printable(buf, sizeof buf, s, strlen(s)));
    }
    return CRVQ_OK;
}

static crvq_status parse_root(const cJSON *root, crvq_config *c, const char *what) {
    crvq_status st;
    if (!cJSON_IsObject(root)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a JSON object", what);
    if ((st = parse_arch(root, c, what)) || (st = check_features(root, c, what))) return st;
    c->qkv_bias = c->arch == CRVQ_ARCH_QWEN2;
    c->qk_norm = c->arch == CRVQ_ARCH_QWEN3;
    c->rope_style = CRVQ_ROPE_HALF; // HF q/k rows are in the half-split order
    c->max_seq_len = 2048;          // transformers' LlamaConfig default
    c->norm_eps = 1e-6f;            // likewise
    c->n_kv_heads = -1;
    c->head_dim = -1;
    if ((st = get_int(root, "hidden_size", 1, &c->dim, what)) ||
        (st = get_int(root, "intermediate_size", 1, &c->hidden_dim, what)) ||
        (st = get_int(root, "num_hidden_layers", 1, &c->n_layers, what)) ||
        (st = get_int(root, "num_attention_heads", 1, &c->n_heads, what)) ||
        (st = get_int(root, "num_key_value_heads", 0, &c->n_kv_heads, what)) ||
        (st = get_int(root, "head_dim", 0, &c->head_dim, what)) ||
        (st = get_int(root, "vocab_size", 1, &c->vocab_size, what)) ||
        (st = get_int(root, "max_position_embeddings", 0, &c->max_seq_len, what)) ||
        (st = get_float(root, "rms_norm_eps", &c->norm_eps, what)) ||
        (st = get_bool(root, "tie_word_embeddings", &c->tied_embeddings, what)) ||
        (st = get_token_id(root, "bos_token_id", &c->bos_id, what)) ||
        (st = get_token_id(root, "eos_token_id", &c->eos_id, what)) || (st = parse_rope(root, c, what)))
        return st;
    // Mistral-7B-v0.1 attends over the last 4096 tokens only: computed in
    // full, that is exact up to the window, so the window is the context
    if (c->arch == CRVQ_ARCH_MISTRAL && (st = get_int(root, "sliding_window", 0, &c->sliding_window, what))) return st;
    if (c->sliding_window > 0 && c->sliding_window < c->max_seq_len) c->max_seq_len = c->sliding_window;
    if (c->n_kv_heads == -1) c->n_kv_heads = c->n_heads;
    if (c->head_dim == -1) {
        if (c->n_heads <= 0 || c->dim % c->n_heads)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                             what, c->dim, c->n_heads);
        c->head_dim = c->dim / c->n_heads;
    }
    return crvq_config_validate(c, what);
}

crvq_status crvq_config_from_hf_json(const char *text, size_t len, const char *what, crvq_config *c) {
    crvq_config_init(c);
    cJSON *root;
    crvq_status st = crvq_json_parse(text, len, what, 0, &root);
    if (st) return st;
    st = parse_root(root, c, what);
    cJSON_Delete(root);
    return st;
}

// ------------------------------------------------------------------ GGUF ---

// The architectures of GGUF files as llama.cpp names them, and the order of
// their q/k rows: llama.cpp's converter permutes llama's for interleaved RoPE
// and keeps Qwen2's and Qwen3's in Hugging Face's half-split order (its
// "neox" RoPE).
// Mistral is written as llama, as llama.cpp does.
static const struct gguf_arch {
    const char *name;
    crvq_arch arch;
    crvq_rope_style style;
} gguf_archs[] = {
    {"llama", CRVQ_ARCH_LLAMA, CRVQ_ROPE_INTERLEAVED},
    {"llama", CRVQ_ARCH_MISTRAL, CRVQ_ROPE_INTERLEAVED},
    {"qwen2", CRVQ_ARCH_QWEN2, CRVQ_ROPE_HALF},
    {"qwen3", CRVQ_ARCH_QWEN3, CRVQ_ROPE_HALF},
};
#define N_GGUF_ARCHS (sizeof gguf_archs / sizeof gguf_archs[0])

const char *crvq_gguf_arch_name(crvq_arch a, crvq_rope_style *style) {
    for (size_t i = 0; i < N_GGUF_ARCHS; i++)
        if (gguf_archs[i].arch == a) {
            *style = gguf_archs[i].style;
            return gguf_archs[i].name;
        }
    *style = CRVQ_ROPE_INTERLEAVED;
    return NULL;
}

// Keys of one GGUF architecture: "<arch>.<field>".
typedef struct gguf_keys {
    const crvq_gguf *g;
    const char *arch;
    char buf[128];
} gguf_keys;

static const char *key_of(gguf_keys *k, const char *field) {
    snprintf(k->buf, sizeof k->buf, "%s.%s", k->arch, field);
    return k->buf;
}

static crvq_status gguf_opt_int(gguf_keys *k, const char *field, int *v) {
    const char *key = key_of(k, field);
    if (crvq_gguf_find_key(k->g, key) < 0) return CRVQ_OK;
    int32_t x;
    crvq_status st = crvq_gguf_get_i32(k->g, key, &x);
    if (!st) *v = x;
    return st;
}

static crvq_status gguf_req_int(gguf_keys *k, const char *field, int *v) {
    int32_t x;
    crvq_status st = crvq_gguf_get_i32(k->g, key_of(k, field), &x);
    if (!st) *v = x;
    return st;
}

static crvq_status gguf_opt_float(gguf_keys *k, const char *field, float *v) {
    const char *key = key_of(k, field);
    return crvq_gguf_find_key(k->g, key) < 0 ? CRVQ_OK : crvq_gguf_get_f32(k->g, key, v);
}

// Token ids: absent, or the "none" value some writers use (u32 -1), mean -1.
static crvq_status gguf_token_id(const crvq_gguf *g, const char *key, int *v) {
    if (crvq_gguf_find_key(g, key) < 0) return CRVQ_OK;
    uint32_t x;
    crvq_status st = crvq_gguf_get_u32(g, key, &x);
    if (!st) *v = x > INT32_MAX ? -1 : (int)x;
    return st;
}

// <arch>.rope.scaling.type none, linear (+ factor) or llama3 (+ factor,
// original_context_length and crvq's low/high_freq_factor keys: llama.cpp
// itself stores llama3 scaling as per-frequency factors, rope_freqs.weight,
// which crvq does not read).
static crvq_status gguf_rope_scaling(gguf_keys *k, crvq_config *c) {
    const crvq_gguf *g = k->g;
    const char *what = g->path;
    if (crvq_gguf_find_tensor(g, "rope_freqs.weight"))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: per-frequency RoPE factors (rope_freqs.weight) are not supported",
                         what);
    const char *key = key_of(k, "rope.scaling.type");
    if (crvq_gguf_find_key(g, key) < 0 || crvq_gguf_str_is(g, key, "none")) return CRVQ_OK;
    if (crvq_gguf_str_is(g, key, "linear")) {
        c->rope_scaling = CRVQ_ROPE_SCALING_LINEAR;
    } else if (crvq_gguf_str_is(g, key, "llama3")) {
        c->rope_scaling = CRVQ_ROPE_SCALING_LLAMA3;
    } else {
        crvq_gguf_str s = {"(not a string)", 14};
        crvq_gguf_get_str(g, key, &s);
        char buf[64];
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: unsupported rope scaling type \"%s\"", what,
                         crvq_printable(buf, sizeof buf, s.p, s.len));
    }
    crvq_status st = crvq_gguf_get_f32(g, key_of(k, "rope.scaling.factor"), &c->rope_factor);
    if (st || c->rope_scaling != CRVQ_ROPE_SCALING_LLAMA3) return st;
    if ((st = crvq_gguf_get_f32(g, key_of(k, "rope.scaling.low_freq_factor"), &c->rope_low_freq_factor)) ||
        (st = crvq_gguf_get_f32(g, key_of(k, "rope.scaling.high_freq_factor"), &c->rope_high_freq_factor)))
        return st;
    return gguf_req_int(k, "rope.scaling.original_context_length", &c->rope_original_max_pos);
}

crvq_status crvq_config_from_gguf(const crvq_gguf *g, crvq_config *c) {
    const char *what = g->path;
    crvq_config_init(c);
    crvq_status st;
    crvq_gguf_str arch;
    if ((st = crvq_gguf_get_str(g, "general.architecture", &arch))) return st;
    const struct gguf_arch *ga = NULL;
    for (size_t i = 0; i < N_GGUF_ARCHS && !ga; i++)
        if (crvq_gguf_str_is(g, "general.architecture", gguf_archs[i].name)) ga = &gguf_archs[i];
    if (!ga) {
        char buf[96];
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: unsupported architecture %s", what,
                         crvq_printable(buf, sizeof buf, arch.p, arch.len));
    }
    c->arch = ga->arch;
    c->rope_style = ga->style;
    c->qkv_bias = ga->arch == CRVQ_ARCH_QWEN2;
    c->qk_norm = ga->arch == CRVQ_ARCH_QWEN3;
    c->vocab_size = 0;
    gguf_keys k = {.g = g, .arch = ga->name};
    int rope_dim = -1;
    if ((st = gguf_req_int(&k, "embedding_length", &c->dim)) ||
        (st = gguf_req_int(&k, "feed_forward_length", &c->hidden_dim)) ||
        (st = gguf_req_int(&k, "block_count", &c->n_layers)) ||
        (st = gguf_req_int(&k, "attention.head_count", &c->n_heads)) ||
        (st = gguf_req_int(&k, "context_length", &c->max_seq_len)))
        return st;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->n_heads > 0 && c->dim % c->n_heads == 0 ? c->dim / c->n_heads : -1;
    int value_dim = -1;
    if ((st = gguf_opt_int(&k, "attention.head_count_kv", &c->n_kv_heads)) ||
        (st = gguf_opt_int(&k, "attention.key_length", &c->head_dim)) ||
        (st = gguf_opt_int(&k, "attention.value_length", &value_dim)) ||
        (st = gguf_opt_int(&k, "rope.dimension_count", &rope_dim)) ||
        (st = gguf_opt_int(&k, "vocab_size", &c->vocab_size)) ||
        (st = gguf_opt_int(&k, "attention.sliding_window", &c->sliding_window)) ||
        (st = gguf_opt_float(&k, "attention.layer_norm_rms_epsilon", &c->norm_eps)) ||
        (st = gguf_opt_float(&k, "rope.freq_base", &c->rope_theta)) ||
        (st = gguf_token_id(g, "tokenizer.ggml.bos_token_id", &c->bos_id)) ||
        (st = gguf_token_id(g, "tokenizer.ggml.eos_token_id", &c->eos_id)) || (st = gguf_rope_scaling(&k, c)))
        return st;
    if (c->head_dim == -1)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: embedding_length %d is not a multiple of head_count %d", what, c->dim,
                         c->n_heads);
    if (c->vocab_size == 0) {
        crvq_gguf_array tokens;
        const crvq_tensor_view *emb = crvq_gguf_find_tensor(g, "token_embd.weight");
        if (crvq_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0) {
            if ((st = crvq_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens))) return st;
            c->vocab_size = tokens.n > INT32_MAX ? INT32_MAX : (int)tokens.n;
        } else if (emb && emb->ndim == 2) {
            c->vocab_size = emb->shape[0] > INT32_MAX ? INT32_MAX : (int)emb->shape[0];
        }
    }
    // Some converters leave ids that the vocabulary does not have: treat as absent.
    if (c->bos_id >= c->vocab_size) c->bos_id = -1;
    if (c->eos_id >= c->vocab_size) c->eos_id = -1;
    if ((st = crvq_config_validate(c, what))) return st;
    if (value_dim != -1 && value_dim != c->head_dim)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: value_length %d differs from key_length %d", what, value_dim,
                         c->head_dim);
    if (rope_dim != -1 && rope_dim != c->head_dim)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: partial rotary embeddings (rope dimension %d, head_dim %d)", what,
                         rope_dim, c->head_dim);
    return CRVQ_OK;
}

// qk_norm is not listed: it follows from the architecture, which is; nor
// sliding_window, which only bounds the lengths allowed.
uint64_t crvq_config_digest(const crvq_config *c, uint64_t seed) {
    const double f[] = {c->arch, c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
                        c->vocab_size, c->norm_eps, c->rope_theta, c->rope_style, c->rope_scaling, c->rope_factor,
                        c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos,
                        c->tied_embeddings, c->qkv_bias};
    return crvq_xxh64(f, sizeof f, seed);
}
