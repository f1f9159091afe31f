// cmd_info.c — `crvq info`: what a model file holds — format, configuration,
// parameter counts, source dtype, tensor shapes; for compressed files every
// compressed layer's settings and bits per weight, whole-model bits and the
// crvq.* metadata (docs/format.md, "Bits accounting").
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: crvq info -m MODEL [--tokenizer FILE] [--json]\n\n"
               "Load a model and describe it: format, architecture, dimensions, RoPE settings,\n"
               "parameter counts, the dtype of the stored weights and the tensor shapes, and\n"
               "bits per weight: linear layers (compressed ones by docs/method.md's formula,\n"
               "dense ones as stored), all tensors as stored, and all but embedding and head;\n"
               "a quantized head or embedding by the scalar formula. For compressed files also\n"
               "every compressed layer (head and embedding included) and the crvq.* metadata.\n\n"
               "  -m, --model MODEL   Hugging Face directory (config.json + safetensors), GGUF\n"
               "                      file or llama2.c checkpoint\n"
               "  --tokenizer FILE    tokenizer.model or tokenizer.bin replacing the model's own\n"
               "  --json              also print one JSON object as the last line of stdout\n"
               "  -h, --help          this help\n");
}

typedef struct tensor_kind {
    const char *name;
    int n_out, n_in; // n_out == 0: a vector of n_in
    int count;       // how many the model has
} tensor_kind;

static int list_kinds(const crvq_model *m, tensor_kind *k) {
    const crvq_config *c = &m->cfg;
    const crvq_layer *L = &m->layers[0];
    int n = 0;
    k[n++] = (tensor_kind){"token_embd", c->vocab_size, c->dim, 1};
    if (!c->tied_embeddings) k[n++] = (tensor_kind){"output", m->output.n_out, m->output.n_in, 1};
    k[n++] = (tensor_kind){"output_norm", 0, c->dim, 1};
    k[n++] = (tensor_kind){"attn_norm", 0, c->dim, c->n_layers};
    for (int p = 0; p < CRVQ_PROJ_COUNT; p++) {
        // each norm listed before the projections it feeds
        if (p == CRVQ_PROJ_GATE) k[n++] = (tensor_kind){"ffn_norm", 0, c->dim, c->n_layers};
        const crvq_linear *lin = crvq_layer_proj(L, p);
        k[n++] = (tensor_kind){crvq_proj_member(p), lin->n_out, lin->n_in, c->n_layers};
    }
    for (int p = 0; p < CRVQ_PROJ_COUNT && c->qkv_bias; p++)
        if (crvq_proj_bias_name(p))
            k[n++] = (tensor_kind){crvq_proj_bias_name(p), 0, crvq_layer_proj(L, p)->n_out, c->n_layers};
    if (c->qk_norm) {
        k[n++] = (tensor_kind){"q_norm", 0, c->head_dim, c->n_layers};
        k[n++] = (tensor_kind){"k_norm", 0, c->head_dim, c->n_layers};
    }
    return n;
}

// Compressed tensors: all of them, and those among the blocks' projections.
static int n_compressed(const crvq_model *m, int blocks_only) {
    int n = 0, n_slots = blocks_only ? m->cfg.n_layers * CRVQ_PROJ_COUNT : cli_n_tensor_slots(m);
    char name[48];
    crvq_linear lin;
    for (int i = 0; i < n_slots; i++) n += cli_compressed_tensor(m, i, name, sizeof name, &lin);
    return n;
}

static void print_layers(const crvq_model *m) {
    printf("compressed layers\n");
    printf("  %-18s %-6s %-13s %-36s %s\n", "name", "kind", "shape", "settings", "bits/weight");
    for (int i = 0; i < cli_n_tensor_slots(m); i++) {
        char name[48], shape[32], set[96];
        crvq_linear lin;
        if (!cli_compressed_tensor(m, i, name, sizeof name, &lin)) continue;
        crvq_linear_desc d;
        crvq_linear_describe(&lin, &d);
        snprintf(shape, sizeof shape, "(%d, %d)", lin.n_out, lin.n_in);
        if (lin.kind == CRVQ_LINEAR_VQ) {
            int k = snprintf(set, sizeof set, "d %d  M %d  e ", d.d, d.M);
            for (int e = 0; e < d.M; e++) k += snprintf(set + k, sizeof set - (size_t)k, "%s%d", e ? "," : "", d.e[e]);
            snprintf(set + k, sizeof set - (size_t)k, "  n_crit %d/%d%s", d.n_crit, d.n_groups,
                     d.permuted ? "  perm" : "");
        } else {
            snprintf(set, sizeof set, "bits %d  group %d", d.bits, d.group_size);
        }
        printf("  %-18s %-6s %-13s %-36s %.4f\n", name, d.kind, shape, set, d.bpw);
    }
}

static const char *rope_style_name(crvq_rope_style s) {
    return s == CRVQ_ROPE_INTERLEAVED ? "interleaved" : "half";
}

static void print_text(const crvq_model *m, const tensor_kind *k, int n_kinds, const crvq_model_bpw *b,
                       const cJSON *meta) {
    const crvq_config *c = &m->cfg;
    int64_t n_all = crvq_model_n_params(m), n_lin = crvq_model_n_params_linear(m);
    int64_t n_emb = (int64_t)c->vocab_size * c->dim;
    printf("model          %s\n", m->path);
    printf("format         %s (weights stored as %s)\n", m->format, m->source_dtype);
    printf("architecture   %s\n", crvq_arch_name(c->arch));
    printf("dim            %d\n", c->dim);
    printf("hidden_dim     %d\n", c->hidden_dim);
    printf("layers         %d\n", c->n_layers);
    printf("heads          %d (kv heads %d, head_dim %d)\n", c->n_heads, c->n_kv_heads, c->head_dim);
    printf("vocab          %d\n", c->vocab_size);
    printf("context        %d\n", c->max_seq_len);
    printf("rms norm eps   %g\n", c->norm_eps);
    printf("rope           %s, theta %g, scaling %s", rope_style_name(c->rope_style), c->rope_theta,
           crvq_rope_scaling_name(c->rope_scaling));
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LINEAR) printf(" (factor %g)", c->rope_factor);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3)
        printf(" (factor %g, low %g, high %g, original context %d)", c->rope_factor, c->rope_low_freq_factor,
               c->rope_high_freq_factor, c->rope_original_max_pos);
    printf("\n");
    printf("embeddings     %s\n", c->tied_embeddings ? "tied (output head = token embedding)" : "separate output head");
    printf("qkv bias       %s\n", c->qkv_bias ? "yes" : "no");
    if (c->qk_norm) printf("q/k norm       yes (per head, before RoPE)\n"); // only where there are, as their tensors
    printf("bos / eos      %d / %d\n", c->bos_id, c->eos_id);
    if (m->tok) printf("tokenizer      %d pieces\n", crvq_tokenizer_n_vocab(m->tok));
    else printf("tokenizer      none\n");
    printf("parameters     %lld total, %lld in linear layers, %lld embedding, %lld other\n", (long long)n_all,
           (long long)n_lin, (long long)n_emb, (long long)(n_all - n_lin - n_emb));
    printf("tensors\n");
    for (int i = 0; i < n_kinds; i++) {
        char shape[64];
        if (k[i].n_out) snprintf(shape, sizeof shape, "(%d, %d)", k[i].n_out, k[i].n_in);
        else snprintf(shape, sizeof shape, "(%d)", k[i].n_in);
        printf("  %-12s %-14s x %d\n", k[i].name, shape, k[i].count);
    }
    printf("bits/weight    linear %.4f, total %.4f, without embedding and head %.4f\n", b->linear,
           b->total, b->nonembed);
    int n_blocks = n_compressed(m, 1);
    if (n_blocks) {
        int n_dense = CRVQ_PROJ_COUNT * c->n_layers - n_blocks;
        if (n_dense) printf("               (%d linear layers left dense, counted as stored)\n", n_dense);
    }
    if (n_compressed(m, 0)) print_layers(m);
    if (meta) {
        printf("crvq metadata\n");
        for (const cJSON *e = meta->child; e; e = e->next) {
            char *v = cJSON_PrintUnformatted(e);
            printf("  crvq.%-22s %s\n", e->string, v ? v : "?");
            free(v);
        }
    }
}

static cJSON *to_json(const crvq_model *m, const tensor_kind *k, int n_kinds, const crvq_model_bpw *b,
                      const cJSON *meta) {
    const crvq_config *c = &m->cfg;
    int64_t n_all = crvq_model_n_params(m), n_lin = crvq_model_n_params_linear(m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", m->path);
    cJSON_AddStringToObject(o, "format", m->format);
    cJSON_AddStringToObject(o, "dtype", m->source_dtype);
    cJSON_AddStringToObject(o, "arch", crvq_arch_name(c->arch));
    cJSON_AddNumberToObject(o, "dim", c->dim);
    cJSON_AddNumberToObject(o, "hidden_dim", c->hidden_dim);
    cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "max_seq_len", c->max_seq_len);
    cJSON_AddNumberToObject(o, "norm_eps", crvq_f32_decimal(c->norm_eps));
    cJSON_AddStringToObject(o, "rope_style", rope_style_name(c->rope_style));
    cJSON_AddNumberToObject(o, "rope_theta", crvq_f32_decimal(c->rope_theta));
    cJSON_AddStringToObject(o, "rope_scaling", crvq_rope_scaling_name(c->rope_scaling));
    if (c->rope_scaling != CRVQ_ROPE_SCALING_NONE)
        cJSON_AddNumberToObject(o, "rope_factor", crvq_f32_decimal(c->rope_factor));
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        cJSON_AddNumberToObject(o, "rope_low_freq_factor", crvq_f32_decimal(c->rope_low_freq_factor));
        cJSON_AddNumberToObject(o, "rope_high_freq_factor", crvq_f32_decimal(c->rope_high_freq_factor));
        cJSON_AddNumberToObject(o, "rope_original_max_pos", c->rope_original_max_pos);
    }
    cJSON_AddBoolToObject(o, "tied_embeddings", c->tied_embeddings);
    cJSON_AddBoolToObject(o, "qkv_bias", c->qkv_bias);
    if (c->qk_norm) cJSON_AddBoolToObject(o, "qk_norm", 1);
    cJSON_AddNumberToObject(o, "bos_id", c->bos_id);
    cJSON_AddNumberToObject(o, "eos_id", c->eos_id);
    if (m->tok) cJSON_AddNumberToObject(o, "tokenizer_vocab", crvq_tokenizer_n_vocab(m->tok));
    else cJSON_AddNullToObject(o, "tokenizer_vocab");
    cJSON_AddNumberToObject(o, "n_params", (double)n_all);
    cJSON_AddNumberToObject(o, "n_params_linear", (double)n_lin);
    cJSON_AddNumberToObject(o, "n_params_embedding", (double)c->vocab_size * c->dim);
    cJSON *t = cJSON_AddObjectToObject(o, "tensors");
    for (int i = 0; i < n_kinds; i++) {
        cJSON *e = cJSON_AddObjectToObject(t, k[i].name);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        if (k[i].n_out) cJSON_AddItemToArray(shape, cJSON_CreateNumber(k[i].n_out));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(k[i].n_in));
        cJSON_AddNumberToObject(e, "count", k[i].count);
    }
    cJSON_AddNumberToObject(o, "linear_bpw", b->linear);
    cJSON_AddNumberToObject(o, "total_bpw", b->total);
    cJSON_AddNumberToObject(o, "nonembed_bpw", b->nonembed);
    cJSON_AddNumberToObject(o, "n_compressed_layers", n_compressed(m, 1));
    if (n_compressed(m, 0)) cJSON_AddItemToObject(o, "layers", cli_layers_json(m));
    if (meta) cJSON_AddItemToObject(o, "crvq", cJSON_Duplicate(meta, 1));
    return o;
}

static const char *cmd = "info";

typedef struct opts {
    cli_common c; // -m, --tokenizer, --json
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    return cli_parse(cmd, argc, argv, CLI_F_MODEL | CLI_F_TOKENIZER | CLI_F_JSON, &o->c, NULL, 0, usage);
}

static int validate(void *vo) {
    const opts *o = vo;
    return cli_need_model(cmd, o->c.model);
}

static int run(const void *vo) {
    const opts *o = vo;
    crvq_model *m = cli_load_model(cmd, o->c.model, o->c.tokenizer);
    if (!m) return 1;
    tensor_kind kinds[20];
    int n_kinds = list_kinds(m, kinds);
    crvq_model_bpw bits = crvq_model_bits(m, CRVQ_BITS_AS_LOADED);
    cJSON *meta = NULL;
    char *meta_text = NULL;
    if (strcmp(m->format, "gguf") == 0 && crvq_file_metadata(m->path, &meta_text) == CRVQ_OK && meta_text)
        meta = cJSON_Parse(meta_text); // none to show when unreadable
    free(meta_text);
    print_text(m, kinds, n_kinds, &bits, meta);
    int rc = 0;
    if (o->c.json) {
        cJSON *j = to_json(m, kinds, n_kinds, &bits, meta);
        if (j) cli_print_json(j);
        else rc = cli_error(cmd, "out of memory");
    }
    cJSON_Delete(meta);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_info = {"info", "describe a model: format, configuration, parameters, tensors",
                            sizeof(opts), parse, validate, run};
