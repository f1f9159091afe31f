// cmd_tokenize.c — `crvq tokenize`: print the token ids of a text, encoded
// in one piece as SentencePiece (or Hugging Face's tokenizers) encodes one string.
#include "cli/cli.h"
#include "io/mapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: crvq tokenize (-m MODEL | --tokenizer FILE) (-f FILE | -p TEXT) [--no-bos] [--json]\n\n"
               "Encode a whole text as one string (SentencePiece semantics: the dummy prefix\n"
               "once at the start, newlines as byte pieces; tokenizer.json: Hugging Face's, special\n"
               "tokens matched in the text) and print the ids on one line.\n\n"
               "  -m, --model MODEL   take the tokenizer of a model (HF directory, GGUF, llama2.c)\n"
               "  --tokenizer FILE    tokenizer.model (SentencePiece), tokenizer.bin (llama2.c),\n"
               "                      tokenizer.json (byte-level BPE: GPT-2, Llama 3, Qwen2/3) or a\n"
               "                      GGUF file's vocabulary; with -m it replaces the model's own\n"
               "  -f, --file FILE     text to encode (UTF-8 bytes, read as is)\n"
               "  -p, --prompt TEXT   text to encode, given on the command line\n"
               "  --no-bos            do not put BOS in front\n"
               "  --json              print {\"n_tokens\":N,\"ids\":[...]} instead of the plain line\n"
               "  -h, --help          this help\n\n"
               "Timing goes to stderr.\n");
}

static const char *cmd = "tokenize";

typedef struct opts {
    cli_common c; // -m, --tokenizer, -f, -p, --json
    int no_bos;
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    o->no_bos = 0;
    const cli_flag own[] = {CLI_FLAG_SET(NULL, "--no-bos", &o->no_bos)};
    return cli_parse(cmd, argc, argv, CLI_F_MODEL | CLI_F_TOKENIZER | CLI_F_FILE | CLI_F_PROMPT | CLI_F_JSON, &o->c,
                     own, 1, usage);
}

static int validate(void *vo) {
    const opts *o = vo;
    if (!o->c.model && !o->c.tokenizer) {
        fprintf(stderr, "crvq tokenize: error: give -m MODEL or --tokenizer FILE (see --help)\n");
        return 2;
    }
    if (!o->c.file == !o->c.prompt) {
        fprintf(stderr, "crvq tokenize: error: give exactly one of -f FILE and -p TEXT (see --help)\n");
        return 2;
    }
    return 0;
}

// The ids on one line, or as {"n_tokens":N,"ids":[...]}.
static int print_ids(const int *ids, size_t n, int json) {
    if (json) {
        // Written directly: cJSON would build one node per id.
        printf("{\"n_tokens\":%zu,\"ids\":[", n);
        for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        printf("]}\n");
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    return fflush(stdout) != 0 || ferror(stdout) ? cli_error(cmd, "cannot write to stdout") : 0;
}

static int encode(const opts *o, const crvq_tokenizer *tok) {
    char *text_buf = NULL;
    const char *text = o->c.prompt;
    size_t len = text ? strlen(text) : 0;
    if (o->c.file) {
        if (crvq_read_file(o->c.file, &text_buf, &len) != CRVQ_OK) return cli_error(cmd, NULL);
        text = text_buf;
    }
    int *ids = NULL;
    size_t n = 0;
    double t0 = cli_seconds();
    int rc = 0;
    if (crvq_tokenize(tok, text, len, !o->no_bos, &ids, &n) != CRVQ_OK) {
        rc = cli_error(cmd, NULL);
    } else {
        double dt = cli_seconds() - t0;
        fprintf(stderr, "crvq tokenize: %zu tokens from %zu bytes in %.3f s (%.1f MB/s)\n", n, len, dt,
                dt > 0 ? (double)len / dt / 1e6 : 0.0);
        rc = print_ids(ids, n, o->c.json);
    }
    free(ids);
    free(text_buf);
    return rc;
}

static int run(const void *vo) {
    const opts *o = vo;
    if (!o->c.model) {
        crvq_tokenizer *tok;
        if (crvq_tokenizer_load(o->c.tokenizer, &tok) != CRVQ_OK) return cli_error(cmd, NULL);
        int rc = encode(o, tok);
        crvq_tokenizer_free(tok);
        return rc;
    }
    crvq_model *model = cli_load_model(cmd, o->c.model, o->c.tokenizer);
    if (!model) return 1;
    int rc = model->tok ? encode(o, model->tok)
                        : cli_error(cmd, "the model has no tokenizer; give one with --tokenizer FILE");
    crvq_model_free(model);
    return rc;
}

const cli_command cli_tokenize = {"tokenize", "print the token ids of a text file",
                            sizeof(opts), parse, validate, run};
