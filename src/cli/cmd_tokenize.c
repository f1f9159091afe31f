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

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize";
    const char *model_path = NULL, *tok_path = NULL, *file = NULL, *prompt = NULL;
    int bos = 1, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) {
            model_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--tokenizer")) {
            tok_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, "-f", "--file")) {
            file = cli_value(argc, argv, &i);
        } else if (cli_is(a, "-p", "--prompt")) {
            prompt = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--no-bos")) {
            bos = 0;
        } else if (cli_is(a, NULL, "--json")) {
            json = 1;
        } else {
            return cli_unknown(cmd, a);
        }
    }
    if (!model_path && !tok_path) {
        fprintf(stderr, "crvq tokenize: error: give -m MODEL or --tokenizer FILE (see --help)\n");
        return 2;
    }
    if (!file == !prompt) {
        fprintf(stderr, "crvq tokenize: error: give exactly one of -f FILE and -p TEXT (see --help)\n");
        return 2;
    }

    crvq_model *model = NULL;
    crvq_tokenizer *own = NULL;
    const crvq_tokenizer *tok;
    if (model_path) {
        if (!(model = cli_load_model(cmd, model_path, tok_path))) return 1;
        if (!model->tok) {
            crvq_model_free(model);
            return cli_error(cmd, "the model has no tokenizer; give one with --tokenizer FILE");
        }
        tok = model->tok;
    } else {
        if (crvq_tokenizer_load(tok_path, &own) != CRVQ_OK) return cli_error(cmd, NULL);
        tok = own;
    }

    char *text_buf = NULL;
    const char *text = prompt;
    size_t len = prompt ? strlen(prompt) : 0;
    int rc = 0;
    if (file) {
        if (crvq_read_file(file, &text_buf, &len) != CRVQ_OK) {
            rc = cli_error(cmd, NULL);
            goto done;
        }
        text = text_buf;
    }

    int *ids = NULL;
    size_t n = 0;
    double t0 = cli_seconds();
    if (crvq_tokenize(tok, text, len, bos, &ids, &n) != CRVQ_OK) {
        rc = cli_error(cmd, NULL);
        goto done;
    }
    double dt = cli_seconds() - t0;
    fprintf(stderr, "crvq tokenize: %zu tokens from %zu bytes in %.3f s (%.1f MB/s)\n", n, len, dt,
            dt > 0 ? (double)len / dt / 1e6 : 0.0);
    if (json) {
        // Written directly: cJSON would build one node per id.
        printf("{\"n_tokens\":%zu,\"ids\":[", n);
        for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        printf("]}\n");
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) rc = cli_error(cmd, "cannot write to stdout");
    free(ids);
done:
    free(text_buf);
    crvq_tokenizer_free(own);
    if (model) crvq_model_free(model);
    return rc;
}
