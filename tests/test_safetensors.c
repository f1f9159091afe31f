// test_safetensors.c — Hugging Face checkpoints: config.json parsing,
// safetensors F32/F16/BF16 tensors, tied and untied heads, Qwen2 biases,
// sharded checkpoints; and malformed configs, headers, offsets, shapes and
// indexes, each failing with a message that names the file.
#include "buf_util.h"
#include "check.h"
#include "model_util.h"
#include "crvq.h"
#include "io/safetensors.h"
#include "model/config.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DIM = 8, HID = 12, NL = 2, NH = 2, NKV = 1, VOCAB = 16 };
#define KV_DIM (NKV * DIM / NH)

static char root[64];
static char mdir[128]; // the model directory every case writes into

// ------------------------------------------------------------- builders ---

typedef struct tensor {
    char name[96];
    const char *dtype; // "F32", "F16", "BF16", or anything for malformed cases
    int ndim;
    int64_t shape[4];
    int seed;          // values: see value()
} tensor;

// Exact in bf16 and f16: at most 8 significant bits.
static float value(int seed, int64_t i) { return (float)((i * 7 + seed * 13) % 251 - 125) * 0.125f; }

static int64_t numel(const tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static size_t elsize(const char *dtype) { return strcmp(dtype, "F32") == 0 ? 4 : 2; }

static void encode(const tensor *t, uint8_t *dst) {
    for (int64_t i = 0; i < numel(t); i++) {
        float v = value(t->seed, i);
        if (strcmp(t->dtype, "F32") == 0) {
            memcpy(dst + 4 * i, &v, 4);
        } else {
            uint32_t u;
            memcpy(&u, &v, 4);
            uint16_t h = strcmp(t->dtype, "F16") == 0 ? crvq_f32_to_f16(v) : (uint16_t)(u >> 16);
            memcpy(dst + 2 * i, &h, 2);
        }
    }
}

// A safetensors file: header padded with spaces to a multiple of 8, then the data.
static test_buf build_st(const tensor *ts, int n) {
    test_buf hdr = {0}, data = {0}, out = {0};
    test_putf(&hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const tensor *t = &ts[i];
        size_t bytes = (size_t)numel(t) * elsize(t->dtype);
        uint8_t *d = calloc(1, bytes + 1);
        encode(t, d);
        test_putf(&hdr, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int k = 0; k < t->ndim; k++) test_putf(&hdr, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        test_putf(&hdr, "],\"data_offsets\":[%zu,%zu]}", data.n, data.n + bytes);
        test_put(&data, d, bytes);
        free(d);
    }
    test_put(&hdr, "}", 1);
    while (hdr.n % 8) test_put(&hdr, " ", 1);
    uint64_t len = hdr.n;
    test_put(&out, &len, 8);
    test_put(&out, hdr.p, hdr.n);
    if (data.n) test_put(&out, data.p, data.n);
    free(hdr.p);
    free(data.p);
    return out;
}

// The tensors of a tiny llama (or qwen2 with biases); seeds are the index.
static int model_tensors(tensor *ts, int tied, int bias) {
    int n = 0;
#define T(NAME, DT, R, C)                                                             \
    do {                                                                              \
        tensor *t_ = &ts[n];                                                          \
        memset(t_, 0, sizeof *t_);                                                    \
        snprintf(t_->name, sizeof t_->name, "%s", NAME);                              \
        t_->dtype = DT;                                                               \
        t_->ndim = (R) ? 2 : 1;                                                       \
        t_->shape[0] = (R) ? (R) : (C);                                               \
        t_->shape[1] = (R) ? (C) : 0;                                                 \
        t_->seed = n;                                                                 \
        n++;                                                                          \
    } while (0)
    T("model.embed_tokens.weight", "BF16", VOCAB, DIM);
    T("model.norm.weight", "F32", 0, DIM);
    if (!tied) T("lm_head.weight", "F16", VOCAB, DIM);
    char name[96];
    for (int l = 0; l < NL; l++) {
#define L(SUFFIX, DT, R, C)                                                  \
    do {                                                                     \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, SUFFIX);        \
        T(name, DT, R, C);                                                   \
    } while (0)
        L("input_layernorm.weight", "F32", 0, DIM);
        L("post_attention_layernorm.weight", "BF16", 0, DIM);
        L("self_attn.q_proj.weight", "F16", DIM, DIM);
        L("self_attn.k_proj.weight", "BF16", KV_DIM, DIM);
        L("self_attn.v_proj.weight", "F32", KV_DIM, DIM);
        L("self_attn.o_proj.weight", "F16", DIM, DIM);
        L("mlp.gate_proj.weight", "BF16", HID, DIM);
        L("mlp.up_proj.weight", "F32", HID, DIM);
        L("mlp.down_proj.weight", "F16", DIM, HID);
        if (bias) {
            L("self_attn.q_proj.bias", "F32", 0, DIM);
            L("self_attn.k_proj.bias", "F16", 0, KV_DIM);
            L("self_attn.v_proj.bias", "BF16", 0, KV_DIM);
        }
#undef L
    }
#undef T
    return n;
}

static int find(const tensor *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(ts[i].name, name) == 0) return i;
    return -1;
}

static char *config_json(const char *arch, int tied, const char *extra) {
    static char s[2048];
    snprintf(s, sizeof s,
             "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d,"
             " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,"
             " \"vocab_size\": %d, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-06,"
             " \"tie_word_embeddings\": %s, \"bos_token_id\": 1, \"eos_token_id\": [2, 3]%s%s}",
             arch, DIM, HID, NL, NH, NKV, VOCAB, tied ? "true" : "false", extra ? ", " : "", extra ? extra : "");
    return s;
}

static void write_file(const char *name, const void *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", mdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void clear_dir(void) {
    const char *names[] = {"config.json", "model.safetensors", "model.safetensors.index.json",
                           "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", mdir, names[i]);
        unlink(path);
    }
}

static void write_model(const char *config, const tensor *ts, int n) {
    clear_dir();
    write_file("config.json", config, strlen(config));
    test_buf st = build_st(ts, n);
    write_file("model.safetensors", st.p, st.n);
    free(st.p);
}

static crvq_model *load_ok(void) {
    crvq_model *m = NULL;
    crvq_status st = crvq_model_load(mdir, NULL, &m);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return m;
}

// Loading fails; the one-line message names a file of the model and contains `what`.
static void expect_fail(const char *label, const char *what) {
    crvq_model *m = NULL;
    crvq_status st = crvq_model_load(mdir, NULL, &m);
    const char *e = crvq_last_error();
    CHECK_MSG(st != CRVQ_OK && m == NULL, "%s: loaded", label);
    CHECK_MSG(strstr(e, mdir) != NULL, "%s: message does not name the file: '%s'", label, e);
    CHECK_MSG(!what || strstr(e, what) != NULL, "%s: message '%s' lacks '%s'", label, e, what);
    CHECK_MSG(strchr(e, '\n') == NULL, "%s: multi-line message", label);
    crvq_model_free(m);
}

// ---------------------------------------------------------------- valid ---

static void check_values(const float *got, const tensor *ts, int n, const char *name) {
    int i = find(ts, n, name);
    CHECK_MSG(i >= 0, "no tensor %s", name);
    if (i < 0) return;
    int64_t bad = 0;
    for (int64_t k = 0; k < numel(&ts[i]); k++) bad += got[k] != value(ts[i].seed, k);
    CHECK_MSG(bad == 0, "%s: %lld values differ", name, (long long)bad);
}

// A dense weight: kept in its stored 16-bit type or as float32, with the
// stored values.
static void check_linear(const crvq_linear *L, const tensor *ts, int n, const char *name) {
    int i = find(ts, n, name);
    CHECK_MSG(i >= 0, "no tensor %s", name);
    if (i < 0) return;
    int bf16 = strcmp(ts[i].dtype, "BF16") == 0, f16 = strcmp(ts[i].dtype, "F16") == 0;
    CHECK_MSG(test_dense_kept(L, bf16 || f16, bf16 ? CRVQ_BF16 : CRVQ_F16), "%s (%s) not kept as stored", name,
              ts[i].dtype);
    float *w = test_dense_f32(L);
    check_values(w, ts, n, name);
    free(w);
}

static void check_model(const crvq_model *m, const tensor *ts, int n, int tied, int bias) {
    const crvq_config *c = &m->cfg;
    CHECK(c->dim == DIM && c->hidden_dim == HID && c->n_layers == NL && c->n_heads == NH && c->n_kv_heads == NKV);
    CHECK(c->head_dim == DIM / NH && c->vocab_size == VOCAB && c->max_seq_len == 64);
    CHECK_NEAR(c->norm_eps, 1e-6, 1e-6);
    CHECK(c->rope_style == CRVQ_ROPE_HALF && c->tied_embeddings == tied && c->qkv_bias == bias);
    CHECK(c->bos_id == 1 && c->eos_id == 2); // first of the eos list
    CHECK(strcmp(m->format, "safetensors") == 0);
    // Matrix dtypes in order of first appearance: embedding, (head,) q, k, v.
    CHECK_MSG(strcmp(m->source_dtype, "bf16+f16+f32") == 0, "dtype %s", m->source_dtype);
    CHECK(m->tok == NULL);
    const crvq_linear emb = crvq_model_embedding(m);
    check_linear(&emb, ts, n, "model.embed_tokens.weight");
    check_values(m->out_norm, ts, n, "model.norm.weight");
    if (tied) CHECK(m->output.w == m->tok_embd && m->output.w16 == m->tok_embd16);
    else check_linear(&m->output, ts, n, "lm_head.weight");
    char name[96];
    for (int l = 0; l < NL; l++) {
        const crvq_layer *L = &m->layers[l];
#define V(PTR, SUFFIX)                                                   \
    do {                                                                 \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, SUFFIX);    \
        check_values(PTR, ts, n, name);                                  \
    } while (0)
#define W(LIN, SUFFIX)                                                   \
    do {                                                                 \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, SUFFIX);    \
        check_linear(&(LIN), ts, n, name);                               \
    } while (0)
        V(L->attn_norm, "input_layernorm.weight");
        V(L->ffn_norm, "post_attention_layernorm.weight");
        W(L->wq, "self_attn.q_proj.weight");
        W(L->wk, "self_attn.k_proj.weight");
        W(L->wv, "self_attn.v_proj.weight");
        W(L->wo, "self_attn.o_proj.weight");
        W(L->w_gate, "mlp.gate_proj.weight");
        W(L->w_up, "mlp.up_proj.weight");
        W(L->w_down, "mlp.down_proj.weight");
        if (bias) {
            V(L->wq.bias, "self_attn.q_proj.bias");
            V(L->wk.bias, "self_attn.k_proj.bias");
            V(L->wv.bias, "self_attn.v_proj.bias");
        } else {
            CHECK(L->wq.bias == NULL && L->wk.bias == NULL && L->wv.bias == NULL);
        }
        CHECK(L->wo.bias == NULL && L->w_up.bias == NULL);
#undef V
#undef W
    }
    int64_t lin = NL * (2 * DIM * DIM + 2 * KV_DIM * DIM + 3 * HID * DIM);
    CHECK(crvq_model_n_params_linear(m) == lin);
    CHECK(crvq_model_n_params(m) ==
          lin + VOCAB * DIM * (tied ? 1 : 2) + DIM + NL * 2 * DIM + (bias ? NL * (DIM + 2 * KV_DIM) : 0));
}

static void test_valid(void) {
    tensor ts[64];
    for (int tied = 0; tied <= 1; tied++) {
        int n = model_tensors(ts, tied, 0);
        write_model(config_json("LlamaForCausalLM", tied, NULL), ts, n);
        crvq_model *m = load_ok();
        if (m) check_model(m, ts, n, tied, 0);
        crvq_model_free(m);
    }
    int n = model_tensors(ts, 0, 1);
    write_model(config_json("Qwen2ForCausalLM", 0, NULL), ts, n);
    crvq_model *m = load_ok();
    if (m) {
        CHECK(m->cfg.arch == CRVQ_ARCH_QWEN2);
        check_model(m, ts, n, 0, 1);
    }
    crvq_model_free(m);
    n = model_tensors(ts, 0, 0);
    write_model(config_json("MistralForCausalLM", 0, "\"head_dim\": null, \"sliding_window\": 4096"), ts, n);
    m = load_ok();
    if (m) CHECK(m->cfg.arch == CRVQ_ARCH_MISTRAL && m->cfg.head_dim == DIM / NH);
    crvq_model_free(m);
}

// RoPE settings in both layouts, defaults, and token-id lists.
static void test_config_rope(void) {
    crvq_config c;
    const char *llama3 = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 96,"
                         " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 10,"
                         " \"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"llama3\", \"factor\": 8.0,"
                         " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                         " \"original_max_position_embeddings\": 8192}}";
    CHECK_MSG(crvq_config_from_hf_json(llama3, strlen(llama3), "llama3.json", &c) == CRVQ_OK, "%s", crvq_last_error());
    CHECK(c.rope_scaling == CRVQ_ROPE_SCALING_LLAMA3 && c.rope_theta == 500000.0f && c.rope_factor == 8.0f);
    CHECK(c.rope_low_freq_factor == 1.0f && c.rope_high_freq_factor == 4.0f && c.rope_original_max_pos == 8192);
    // Defaults: kv heads = heads, head_dim = dim / heads, untied, 2048 context, eps 1e-6, no bos/eos.
    CHECK(c.n_kv_heads == 4 && c.head_dim == 16 && !c.tied_embeddings && c.max_seq_len == 2048);
    CHECK(c.norm_eps == 1e-6f && c.bos_id == -1 && c.eos_id == -1 && c.rope_style == CRVQ_ROPE_HALF);
    const char *linear = "{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"intermediate_size\": 96,"
                         " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                         " \"vocab_size\": 10, \"rope_theta\": 1000000.0, \"use_sliding_window\": false,"
                         " \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, \"eos_token_id\": [7, 8]}";
    CHECK_MSG(crvq_config_from_hf_json(linear, strlen(linear), "linear.json", &c) == CRVQ_OK, "%s", crvq_last_error());
    CHECK(c.arch == CRVQ_ARCH_QWEN2 && c.qkv_bias && c.n_kv_heads == 2);
    CHECK(c.rope_scaling == CRVQ_ROPE_SCALING_LINEAR && c.rope_factor == 2.0f && c.rope_theta == 1000000.0f);
    CHECK(c.eos_id == 7);
    const char *bad_llama3 = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 96,"
                             " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 10,"
                             " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0,"
                             " \"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192}}";
    CHECK(crvq_config_from_hf_json(bad_llama3, strlen(bad_llama3), "bad.json", &c) != CRVQ_OK &&
          strstr(crvq_last_error(), "bad.json: llama3 rope scaling"));
}

// Tensors split over two shards named by model.safetensors.index.json.
static void test_sharded(void) {
    tensor ts[64];
    int n = model_tensors(ts, 0, 0), half = n / 2;
    clear_dir();
    const char *cfg = config_json("LlamaForCausalLM", 0, NULL);
    write_file("config.json", cfg, strlen(cfg));
    const char *shard[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    test_buf a = build_st(ts, half), b = build_st(ts + half, n - half);
    write_file(shard[0], a.p, a.n);
    write_file(shard[1], b.p, b.n);
    free(a.p);
    free(b.p);
    test_buf ix = {0};
    test_putf(&ix, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (int i = 0; i < n; i++) test_putf(&ix, "%s\"%s\": \"%s\"", i ? ", " : "", ts[i].name, shard[i >= half]);
    test_putf(&ix, "}}");
    write_file("model.safetensors.index.json", ix.p, ix.n);
    crvq_model *m = load_ok();
    if (m) check_model(m, ts, n, 0, 0);
    crvq_model_free(m);

    // A tensor in both shards (the index names one of them), and an index
    // that lists a tensor twice.
    test_buf b2 = build_st(ts + half - 1, n - half + 1);
    write_file(shard[1], b2.p, b2.n);
    free(b2.p);
    char both[256];
    snprintf(both, sizeof both, "tensor %s is in both", ts[half - 1].name);
    expect_fail("tensor in two shards", both);
    b2 = build_st(ts + half, n - half);
    write_file(shard[1], b2.p, b2.n);
    free(b2.p);
    test_buf ix2 = {0};
    test_putf(&ix2, "{\"weight_map\": {\"%s\": \"%s\", ", ts[0].name, shard[0]);
    const char *entries = strstr(ix.p, "\"weight_map\": {") + strlen("\"weight_map\": {");
    test_put(&ix2, entries, strlen(entries));
    write_file("model.safetensors.index.json", ix2.p, ix2.n);
    free(ix2.p);
    snprintf(both, sizeof both, "duplicate key \"%s\"", ts[0].name);
    expect_fail("index lists a tensor twice", both);

    // The index names a tensor in the wrong shard, a missing shard, a path.
    char *p = strstr(ix.p, shard[1]);
    memcpy(p, "model-00001", 11);
    write_file("model.safetensors.index.json", ix.p, ix.n);
    expect_fail("tensor in the wrong shard", "missing tensor");
    memcpy(p, "model-00003", 11);
    write_file("model.safetensors.index.json", ix.p, ix.n);
    expect_fail("missing shard", "model-00003-of-00002.safetensors");
    memcpy(p, "model/00002", 11);
    write_file("model.safetensors.index.json", ix.p, ix.n);
    expect_fail("shard path with a slash", "not a plain file name");
    const char *bad[] = {"{\"weight_map\": []}", "{\"weight_map\": {}}", "{\"weight_map\": {\"a\": 3}}",
                         "{\"weight_map\": {\"a\": \"..\"}}", "{\"weight_map\": {", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("model.safetensors.index.json", bad[i], strlen(bad[i]));
        expect_fail(bad[i], "model.safetensors.index.json");
    }
    const char *ctl = "{\"weight_map\": {\"a\": \"x\\ny\"}}";
    write_file("model.safetensors.index.json", ctl, strlen(ctl));
    expect_fail("newline in a shard name", "not a plain file name");
    free(ix.p);
}

// ------------------------------------------------------------ malformed ---

// The config text with the keys of the JSON object body `extra` ("k": v, ...)
// set to their values there (duplicate keys are refused, so they are
// replaced, not repeated); malloc'd.
static char *config_override(const char *base, const char *extra) {
    cJSON *cfg = cJSON_Parse(base);
    if (extra) {
        char body[1024];
        snprintf(body, sizeof body, "{%s}", extra);
        cJSON *ex = cJSON_Parse(body);
        for (cJSON *e = ex ? ex->child : NULL; e; e = e->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(cfg, e->string);
            cJSON_AddItemToObject(cfg, e->string, cJSON_Duplicate(e, 1));
        }
        cJSON_Delete(ex);
    }
    char *text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    return text;
}

static void test_bad_config(void) {
    tensor ts[64];
    int n = model_tensors(ts, 1, 0);
    const struct { const char *label, *arch, *extra, *what; } cases[] = {
        {"unknown architecture", "GPTNeoXForCausalLM", NULL, "unsupported architecture GPTNeoXForCausalLM"},
        {"huge hidden size", "LlamaForCausalLM", "\"hidden_size\": 1000000000", "out of range"},
        {"huge vocab", "LlamaForCausalLM", "\"vocab_size\": 4000000000", "not an integer"},
        {"fractional size", "LlamaForCausalLM", "\"intermediate_size\": 12.5", "not an integer"},
        {"string size", "LlamaForCausalLM", "\"num_hidden_layers\": \"2\"", "not an integer"},
        {"heads do not divide", "LlamaForCausalLM", "\"num_attention_heads\": 3", "multiple"},
        {"kv heads do not divide", "LlamaForCausalLM", "\"num_key_value_heads\": 3", NULL},
        {"negative eps", "LlamaForCausalLM", "\"rms_norm_eps\": -1", "epsilon"},
        {"odd head_dim", "LlamaForCausalLM", "\"head_dim\": 3", "head_dim"},
        {"yarn", "LlamaForCausalLM", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}", "unsupported rope type"},
        {"llama3 without factors", "LlamaForCausalLM", "\"rope_parameters\": {\"rope_type\": \"llama3\"}", NULL},
        {"rope_parameters not an object", "LlamaForCausalLM", "\"rope_parameters\": 3", "not an object"},
        {"llama with biases", "LlamaForCausalLM", "\"attention_bias\": true", "attention_bias"},
        {"gelu", "LlamaForCausalLM", "\"hidden_act\": \"gelu\"", "hidden_act"},
        {"eos outside vocab", "LlamaForCausalLM", "\"pad\": 0, \"eos_token_id\": 99", "eos_id"},
        {"architectures not a list", "LlamaForCausalLM", "\"architectures\": 5", "architectures"},
        {"newline in the architecture", "Llama\\nX", NULL, "unsupported architecture Llama?X"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *cfg = config_override(config_json(cases[i].arch, 1, NULL), cases[i].extra);
        write_model(cfg, ts, n);
        free(cfg);
        expect_fail(cases[i].label, cases[i].what);
    }
    const char *bad_json[] = {"", "{", "{\"hidden_size\": 8,}", "[1, 2]", "nul", "{\"a\": 1} x"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        write_model(bad_json[i], ts, n);
        expect_fail(bad_json[i], "config.json");
    }
    // Duplicate keys, top-level and nested: cJSON would keep the first.
    const char *dups[] = {"\"hidden_size\": 16", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2, \"factor\": 4}"};
    const char *dup_keys[] = {"duplicate key \"hidden_size\"", "duplicate key \"factor\""};
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        char cfg[4200];
        const char *base = config_json("LlamaForCausalLM", 1, i ? NULL : "\"pad\": 0");
        snprintf(cfg, sizeof cfg, "{%s, %s", dups[i], base + 1);
        write_model(cfg, ts, n);
        expect_fail(dups[i], dup_keys[i]);
    }
    write_model(config_json("LlamaForCausalLM\\u0000GPT", 1, NULL), ts, n);
    expect_fail("NUL in config.json", "NUL");
    // Missing required keys.
    const char *keys[] = {"\"hidden_size\"", "\"vocab_size\"", "\"num_hidden_layers\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char cfg[2048];
        snprintf(cfg, sizeof cfg, "%s", config_json("LlamaForCausalLM", 1, NULL));
        char *k = strstr(cfg, keys[i]);
        k[1] = 'X'; // rename the key
        write_model(cfg, ts, n);
        expect_fail(keys[i], "missing key");
    }
    // No config.json, no weights.
    clear_dir();
    expect_fail("empty directory", "config.json");
    const char *cfg = config_json("LlamaForCausalLM", 1, NULL);
    write_file("config.json", cfg, strlen(cfg));
    expect_fail("no weights", "model.safetensors");
}

static void test_bad_tensors(void) {
    tensor ts[64];
    int n = model_tensors(ts, 1, 0);
    const char *cfg = config_json("LlamaForCausalLM", 1, NULL);

    // Missing tensor.
    tensor t2[64];
    memcpy(t2, ts, sizeof ts);
    int i = find(t2, n, "model.layers.1.mlp.up_proj.weight");
    t2[i] = t2[n - 1];
    write_model(cfg, t2, n - 1);
    expect_fail("missing tensor", "missing tensor model.layers.1.mlp.up_proj.weight");

    // Wrong shapes.
    memcpy(t2, ts, sizeof ts);
    i = find(t2, n, "model.layers.0.self_attn.k_proj.weight");
    t2[i].shape[0] = DIM;
    write_model(cfg, t2, n);
    expect_fail("wrong shape", "tensor model.layers.0.self_attn.k_proj.weight has shape [8,8], expected [4,8]");
    memcpy(t2, ts, sizeof ts);
    i = find(t2, n, "model.norm.weight");
    t2[i].ndim = 2;
    t2[i].shape[0] = 1;
    t2[i].shape[1] = DIM;
    write_model(cfg, t2, n);
    expect_fail("matrix for a vector", "has shape [1,8], expected [8]");
    // Qwen2 needs its biases.
    write_model(config_json("Qwen2ForCausalLM", 1, NULL), ts, n);
    expect_fail("missing bias", "missing tensor model.layers.0.self_attn.q_proj.bias");
    // Untied head without lm_head.
    write_model(config_json("LlamaForCausalLM", 0, NULL), ts, n);
    expect_fail("missing head", "missing tensor lm_head.weight");
}

// Hand-written headers: every check of the header and the offsets.
static void write_raw(const char *header, size_t data_bytes, int64_t len_override) {
    clear_dir();
    const char *cfg = config_json("LlamaForCausalLM", 1, NULL);
    write_file("config.json", cfg, strlen(cfg));
    test_buf b = {0};
    uint64_t len = len_override >= 0 ? (uint64_t)len_override : strlen(header);
    test_put(&b, &len, 8);
    test_put(&b, header, strlen(header));
    uint8_t *zeros = calloc(1, data_bytes + 1);
    test_put(&b, zeros, data_bytes);
    free(zeros);
    write_file("model.safetensors", b.p, b.n);
    free(b.p);
}

static void test_bad_headers(void) {
    const struct { const char *label, *header, *what; size_t data; } cases[] = {
        {"bad JSON", "{\"a\": {\"dtype\": \"F32\",", "bad JSON", 0},
        {"not an object", "[1, 2, 3]", "not a JSON object", 0},
        {"entry not an object", "{\"a\": 5}", "not an object", 0},
        {"newline in a name", "{\"a\\nb\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "control characters", 4},
        {"newline in a dtype", "{\"a\": {\"dtype\": \"F\\n\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "unsupported dtype F?", 4},
        {"no dtype", "{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "dtype", 4},
        {"unsupported dtype", "{\"a\": {\"dtype\": \"F8_E4M3\", \"shape\": [1], \"data_offsets\": [0, 1]}}",
         "unsupported dtype F8_E4M3", 1},
        {"no shape", "{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", "shape", 4},
        {"negative dim", "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "shape", 4},
        {"fractional dim", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", "shape", 4},
        {"five dims", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1], \"data_offsets\": [0, 4]}}",
         "dimensions", 4},
        {"huge dims", "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 4]}}",
         "larger than", 4},
        {"overflowing dims",
         "{\"a\": {\"dtype\": \"BF16\", \"shape\": [9007199254740992, 9007199254740992, 4], \"data_offsets\": [0, 4]}}",
         "larger than", 4},
        {"no offsets", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", "data_offsets", 4},
        {"one offset", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", "data_offsets", 4},
        {"offsets past the end", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
         "outside the data section", 4},
        {"begin after end", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}",
         "outside the data section", 8},
        {"size mismatch", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}",
         "holds 4 bytes, its shape and dtype need 8", 8},
        {"huge offset", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [1e300, 1e300]}}",
         "data_offsets", 4},
        // Ambiguities a lenient parser resolves silently, each in its own way.
        {"duplicate tensor", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                             " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
         "duplicate key \"a\"", 8},
        {"duplicate dtype", "{\"a\": {\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "duplicate key \"dtype\"", 4},
        {"duplicate metadata", "{\"__metadata__\": {\"format\": \"pt\", \"format\": \"np\"}}", "duplicate key \"format\"", 0},
        {"overlapping data", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                             " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
         "tensors a and b overlap", 12},
        {"same data twice", "{\"b\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]},"
                            " \"c\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]},"
                            " \"a\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "overlap", 12},
        {"NUL in a name", "{\"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "NUL", 4},
        {"NUL in a dtype", "{\"a\": {\"dtype\": \"F32\\u0000x\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         "NUL", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_raw(cases[i].header, cases[i].data, -1);
        expect_fail(cases[i].label, cases[i].what);
    }
    write_raw("{}", 0, 1000);
    expect_fail("header length past the end", "runs past the end");
    write_raw("{}", 0, INT64_MAX);
    expect_fail("huge header length", "runs past the end");
    clear_dir();
    const char *cfg = config_json("LlamaForCausalLM", 1, NULL);
    write_file("config.json", cfg, strlen(cfg));
    write_file("model.safetensors", "abc", 3);
    expect_fail("3-byte file", "too short");
    // Integer tensors parse but are not weights.
    tensor ts[64];
    int n = model_tensors(ts, 1, 0);
    test_buf st = build_st(ts, n);
    char *p = strstr(st.p + 8, "\"model.norm.weight\":{\"dtype\":\"F32\""); // after the length
    memcpy(p + strlen("\"model.norm.weight\":{\"dtype\":\""), "I32", 3);
    write_file("model.safetensors", st.p, st.n);
    free(st.p);
    expect_fail("integer weights", "cannot be used as float weights");
}

// A safetensors file in memory: the header's length, the header, the data.
static test_buf st_file(const char *header, const void *data, size_t n) {
    test_buf b = {0};
    uint64_t len = strlen(header);
    test_put(&b, &len, 8);
    test_put(&b, header, len);
    test_put(&b, data, n);
    return b;
}

// The parser alone: integer dtypes are accepted, views point at the data.
static void test_parse_direct(void) {
    const char *h = "{\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                    "\"u\":{\"dtype\":\"U8\",\"shape\":[3,1],\"data_offsets\":[16,19]},"
                    "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[19,19]}}";
    uint8_t data[19] = {0};
    int64_t v[2] = {-5, 7};
    memcpy(data, v, 16);
    memcpy(data + 16, "xyz", 3);
    test_buf b = st_file(h, data, sizeof data);
    crvq_safetensors st;
    CHECK_MSG(crvq_safetensors_parse("direct.safetensors", (const uint8_t *)b.p, b.n, &st) == CRVQ_OK, "%s",
              crvq_last_error());
    CHECK(st.n_tensors == 3);
    const crvq_tensor_view *t = crvq_safetensors_find(&st, "u");
    CHECK(t && t->dtype == CRVQ_U8 && t->ndim == 2 && t->shape[0] == 3 && t->nbytes == 3 &&
          memcmp(t->data, "xyz", 3) == 0);
    t = crvq_safetensors_find(&st, "i");
    int64_t got[2];
    if (t) memcpy(got, t->data, 16);
    CHECK(t && t->dtype == CRVQ_I64 && got[0] == -5 && got[1] == 7);
    CHECK(crvq_safetensors_find(&st, "nope") == NULL);
    crvq_safetensors_free(&st);
    free(b.p);

    // An escaped backslash before "u0000" is not a NUL: the name is x\u0000.
    const char *esc = "{\"x\\\\u0000\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    b = st_file(esc, "z", 1);
    CHECK_MSG(crvq_safetensors_parse("esc.safetensors", (const uint8_t *)b.p, b.n, &st) == CRVQ_OK, "%s",
              crvq_last_error());
    CHECK(st.n_tensors == 1 && strcmp(st.tensors[0].name, "x\\u0000") == 0);
    crvq_safetensors_free(&st);
    // A raw NUL byte inside a header string.
    b.p[8 + 2] = 0;
    CHECK(crvq_safetensors_parse("raw.safetensors", (const uint8_t *)b.p, b.n, &st) != CRVQ_OK &&
          strstr(crvq_last_error(), "raw.safetensors") && strstr(crvq_last_error(), "NUL"));
    free(b.p);
    // Touching ranges and empty tensors anywhere do not overlap.
    const char *touch = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                        "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[1,1]},"
                        "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}";
    b = st_file(touch, "xyz", 3);
    CHECK_MSG(crvq_safetensors_parse("touch.safetensors", (const uint8_t *)b.p, b.n, &st) == CRVQ_OK, "%s",
              crvq_last_error());
    crvq_safetensors_free(&st);
    free(b.p);
}

// Random truncations and bit flips of a valid checkpoint: never a crash; a
// failure names the file.
static void test_fuzz(void) {
    tensor ts[64];
    int n = model_tensors(ts, 1, 0);
    const char *cfg = config_json("LlamaForCausalLM", 1, NULL);
    test_buf good = build_st(ts, n);
    uint64_t hlen;
    memcpy(&hlen, good.p, 8);
    clear_dir();
    write_file("config.json", cfg, strlen(cfg));
    srand(42);
    for (int it = 0; it < 400; it++) {
        test_buf b = {0};
        test_put(&b, good.p, good.n);
        size_t size = good.n;
        if (it % 2 == 0) {
            size = (size_t)rand() % good.n; // truncation: always an error
        } else {
            int flips = 1 + rand() % 4;
            for (int f = 0; f < flips; f++) b.p[(size_t)rand() % (8 + hlen)] ^= (char)(1u << (rand() % 8));
        }
        write_file("model.safetensors", b.p, size);
        free(b.p);
        crvq_model *m = NULL;
        crvq_status st = crvq_model_load(mdir, NULL, &m);
        if (it % 2 == 0) CHECK_MSG(st != CRVQ_OK, "truncation to %zu loaded", size);
        if (st) CHECK_MSG(strstr(crvq_last_error(), mdir) != NULL, "fuzz: '%s'", crvq_last_error());
        crvq_model_free(m);
    }
    // config.json truncated at every byte.
    test_buf st = build_st(ts, n);
    write_file("model.safetensors", st.p, st.n);
    free(st.p);
    for (size_t k = 0; k + 1 < strlen(cfg); k++) {
        write_file("config.json", cfg, k);
        expect_fail("truncated config.json", "config.json");
    }
    free(good.p);
}

int main(void) {
    snprintf(root, sizeof root, "safetensors-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(mdir, sizeof mdir, "%s/model", root);
    mkdir(mdir, 0755);
    test_valid();
    test_config_rope();
    test_sharded();
    test_bad_config();
    test_bad_tensors();
    test_bad_headers();
    test_parse_direct();
    test_fuzz();
    clear_dir();
    rmdir(mdir);
    rmdir(root);
    return check_done();
}
