// main.c — `crvq SUBCOMMAND ...`: dispatch to one file per subcommand.
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "describe a model: format, configuration, parameters, tensors"},
    {"tokenize", cmd_tokenize, "print the token ids of a text file"},
    {"perplexity", cmd_perplexity, "perplexity on a text file (stream or docs protocol)"},
    {"generate", cmd_generate, "continue a prompt (greedy or top-p sampling)"},
    {"bench", cmd_bench, "prefill and decode speed of the forward pass"},
    {"quantize", cmd_quantize, "quantize a whole model into one compressed GGUF file"},
    {"finetune", cmd_finetune, "distil the original model into a quantized one (codes frozen)"},
    {"quantize-matrix", cmd_quantize_matrix, "quantize one layer (synthetic or .npy) and report bits, loss, time"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: crvq SUBCOMMAND [options]   (crvq SUBCOMMAND --help for details)\n\n"
               "Channel-Relaxed Vector Quantization of LLaMA-family models.\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is(argv[1], "-h", "--help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "crvq: error: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
