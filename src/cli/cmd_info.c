// cmd_info.c — `crvq info`: what a model file holds — format, configuration,
// parameter counts, source dtype, tensor shapes.
#include "cli/cli.h"
#include "model/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: crvq info -m MODEL [--tokenizer FILE] [--json]\n\n"
               "Load a model and describe it: format, architecture, dimensions, RoPE settings,\n"
               "parameter counts, the dtype of the stored weights and the tensor shapes.\n\n"
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
    k[n++] = (tensor_kind){"wq", L->wq.n_out, L->wq.n_in, c->n_layers};
    k[n++] = (tensor_kind){"wk", L->wk.n_out, L->wk.n_in, c->n_layers};
    k[n++] = (tensor_kind){"wv", L->wv.n_out, L->wv.n_in, c->n_layers};
    k[n++] = (tensor_kind){"wo", L->wo.n_out, L->wo.n_in, c->n_layers};
    k[n++] = (tensor_kind){"ffn_norm", 0, c->dim, c->n_layers};
    k[n++] = (tensor_kind){"w_gate", L->w_gate.n_out, L->w_gate.n_in, c->n_layers};
    k[n++] = (tensor_kind){"w_up", L->w_up.n_out, L->w_up.n_in, c->n_layers};
    k[n++] = (tensor_kind){"w_down", L->w_down.n_out, L->w_down.n_in, c->n_layers};
    if (c->qkv_bias) {
        k[n++] = (tensor_kind){"bq", 0, L->wq.n_out, c->n_layers};
        k[n++] = (tensor_kind){"bk", 0, L->wk.n_out, c->n_layers};
        k[n++] = (tensor_kind){"bv", 0, L->wv.n_out, c->n_layers};
    }
    return n;
}

static const char *rope_style_name(crvq_rope_style s) {
    return s == CRVQ_ROPE_INTERLEAVED ? "interleaved" : "half";
}

static void print_text(const crvq_model *m, const tensor_kind *k, int n_kinds) {
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
}

// A float setting as the decimal it was written as (1e-05, not 9.99999974737875e-06).
static double dec(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", f);
    return strtod(buf, NULL);
}

static cJSON *to_json(const crvq_model *m, const tensor_kind *k, int n_kinds) {
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
    cJSON_AddNumberToObject(o, "norm_eps", dec(c->norm_eps));
    cJSON_AddStringToObject(o, "rope_style", rope_style_name(c->rope_style));
    cJSON_AddNumberToObject(o, "rope_theta", dec(c->rope_theta));
    cJSON_AddStringToObject(o, "rope_scaling", crvq_rope_scaling_name(c->rope_scaling));
    if (c->rope_scaling != CRVQ_ROPE_SCALING_NONE) cJSON_AddNumberToObject(o, "rope_factor", dec(c->rope_factor));
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        cJSON_AddNumberToObject(o, "rope_low_freq_factor", dec(c->rope_low_freq_factor));
        cJSON_AddNumberToObject(o, "rope_high_freq_factor", dec(c->rope_high_freq_factor));
        cJSON_AddNumberToObject(o, "rope_original_max_pos", c->rope_original_max_pos);
    }
    cJSON_AddBoolToObject(o, "tied_embeddings", c->tied_embeddings);
    cJSON_AddBoolToObject(o, "qkv_bias", c->qkv_bias);
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
    return o;
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info";
    const char *model_path = NULL, *tok_path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) {
            model_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--tokenizer")) {
            tok_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--json")) {
            json = 1;
        } else {
            return cli_unknown(cmd, a);
        }
    }
    if (!model_path) {
        fprintf(stderr, "crvq info: error: no model given (-m MODEL, see --help)\n");
        return 2;
    }
    crvq_model *m = cli_load_model(cmd, model_path, tok_path);
    if (!m) return 1;
    tensor_kind kinds[16];
    int n_kinds = list_kinds(m, kinds);
    print_text(m, kinds, n_kinds);
    if (json) {
        cJSON *o = to_json(m, kinds, n_kinds);
        if (!o) {
            crvq_model_free(m);
            return cli_error(cmd, "out of memory");
        }
        cli_print_json(o);
    }
    crvq_model_free(m);
    return 0;
}
