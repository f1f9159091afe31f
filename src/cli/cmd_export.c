// cmd_export.c — `crvq export`: a model (any crvq container, or a checkpoint
// crvq loads) dequantized into a Hugging Face folder (docs/export.md).
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: crvq export -m MODEL -o DIR [--dtype bf16|f16|f32] [--tokenizer FILE] [--json]\n\n"
               "Write the model as a Hugging Face folder that crvq and transformers load:\n"
               "model.safetensors with every tensor dequantized (CRVQ, VQ, GPTQ, RTN layers,\n"
               "quantized or dense head and embedding) to one dtype, config.json for its\n"
               "architecture (llama, mistral, qwen2, qwen3: RoPE theta and scaling, tied\n"
               "embeddings, biases, q/k norms, grouped-query heads), and tokenizer files.\n"
               "One matrix is dequantized at a time, never the whole model in float32.\n\n"
               "  -m, --model MODEL   crvq container (.gguf), GGUF file, Hugging Face directory or\n"
               "                      llama2.c checkpoint\n"
               "  -o, --output DIR    the folder to create; it must not exist or be empty. Written\n"
               "                      to DIR.export.XXXXXX beside it and renamed at the end, so DIR\n"
               "                      appears whole or not at all; nothing existing is replaced\n"
               "  --dtype T           bf16 (default; round to nearest even), f16 (refuses values\n"
               "                      beyond 65504) or f32 (exact)\n"
               "  --tokenizer FILE    tokenizer for the model; a tokenizer.json or tokenizer.model is\n"
               "                      also copied into DIR, with tokenizer_config.json and\n"
               "                      special_tokens_map.json found beside it\n"
               "  --threads N         threads for dequantization\n"
               "  --json              also print one JSON object as the last line of stdout\n"
               "  -h, --help          this help\n\n"
               "Tokenizer files: those of a Hugging Face input directory, or of --tokenizer, are\n"
               "copied. Otherwise (a crvq container's GGUF vocabulary, a llama2.c tokenizer.bin)\n"
               "they are rebuilt from the vocabulary crvq encodes with: tokenizer.model for a\n"
               "SentencePiece one, tokenizer.json for byte-level BPE, with tokenizer_config.json\n"
               "and special_tokens_map.json; a note says so (docs/export.md).\n");
}

static const char *cmd = "export";

typedef struct opts {
    cli_common c; // -m, -o, --tokenizer, --threads, --json
    crvq_dtype dtype;
} opts;

static int parse_dtype(const char *name, const char *flag, const char *v, void *dst) {
    crvq_dtype *d = dst;
    if (!strcmp(v, "bf16")) *d = CRVQ_BF16;
    else if (!strcmp(v, "f16")) *d = CRVQ_F16;
    else if (!strcmp(v, "f32")) *d = CRVQ_F32;
    else {
        fprintf(stderr, "crvq %s: error: %s %s: expected bf16, f16 or f32\n", name, flag, v);
        return 2;
    }
    return 0;
}

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    o->dtype = CRVQ_BF16;
    const cli_flag own[] = {CLI_FLAG_CUSTOM(NULL, "--dtype", &o->dtype, parse_dtype)};
    return cli_parse(cmd, argc, argv, CLI_F_MODEL | CLI_F_OUTPUT | CLI_F_TOKENIZER | CLI_F_THREADS | CLI_F_JSON,
                     &o->c, own, 1, usage);
}

static int validate(void *vo) {
    const opts *o = vo;
    if (!o->c.model || !o->c.output) return cli_usage_error(cmd, "-m MODEL and -o DIR are required", NULL);
    if (o->c.threads) crvq_set_threads(o->c.threads);
    // refuse an existing folder before the model is loaded
    if (crvq_export_check_dir(o->c.output)) return cli_error(cmd, NULL);
    const cli_file files[] = {{"-m", o->c.model, CLI_MODEL, NULL}, {"--tokenizer", o->c.tokenizer, CLI_INPUT, NULL}};
    return cli_files(cmd, files, sizeof files / sizeof files[0]);
}

static void print_report(const opts *o, const crvq_export_report *r, double seconds) {
    printf("wrote %s: %d tensors in %s, %lld bytes in all, %.2f s\n", o->c.output, r->n_tensors,
           crvq_dtype_name(o->dtype), (long long)r->bytes, seconds);
    for (int i = 0; i < r->n_files; i++) printf("  %s\n", r->files[i]);
    if (r->tokenizer_rebuilt)
        fprintf(stderr, "crvq export: note: %s rebuilt from the model's own vocabulary (%s): it encodes as crvq "
                        "does with this model; settings of the original file that crvq does not use are not in "
                        "it. Give --tokenizer ORIGINAL/tokenizer.json (or .model) to copy the original instead\n",
                r->tokenizer_file, o->c.tokenizer ? o->c.tokenizer : o->c.model);
    else if (!r->tokenizer)
        fprintf(stderr, "crvq export: note: no tokenizer file written (%s; give --tokenizer tokenizer.json or "
                        "tokenizer.model)\n",
                r->tokenizer_why[0] ? r->tokenizer_why : "the model has no tokenizer");
    if (!o->c.json) return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dir", o->c.output);
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    for (int i = 0; i < r->n_files; i++) cJSON_AddItemToArray(files, cJSON_CreateString(r->files[i]));
    cJSON_AddNumberToObject(j, "n_tensors", r->n_tensors);
    cJSON_AddNumberToObject(j, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(j, "tensor_bytes", (double)r->tensor_bytes);
    cJSON_AddStringToObject(j, "dtype", crvq_dtype_name(o->dtype));
    cJSON_AddBoolToObject(j, "tokenizer", r->tokenizer);
    cJSON_AddStringToObject(j, "tokenizer_source", r->tokenizer_rebuilt ? "rebuilt" : r->tokenizer ? "copied" : "none");
    cJSON_AddNumberToObject(j, "seconds", seconds);
    cli_print_json(j);
}

static int run(const void *vo) {
    const opts *o = vo;
    crvq_model *m = cli_load_model(cmd, o->c.model, o->c.tokenizer);
    if (!m) return 1;
    double t0 = cli_seconds();
    crvq_export_report r;
    int rc = 0;
    if (crvq_export_hf(m, o->c.output, o->dtype, o->c.tokenizer, &r)) rc = cli_error(cmd, NULL);
    else print_report(o, &r, cli_seconds() - t0);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_export = {"export", "write a model dequantized as a Hugging Face folder", sizeof(opts),
                                parse, validate, run};
