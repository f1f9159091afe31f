// main.c — `crvq SUBCOMMAND ...`: dispatch to one file per subcommand.
#include "cli/cli.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const cli_command *const commands[] = {
    &cli_info, &cli_tokenize, &cli_perplexity, &cli_generate, &cli_bench, &cli_quantize, &cli_finetune,
    &cli_quantize_matrix, &cli_export,
};

// parse, validate, run, on the command's own options (static: a bad flag
// exits from inside parse, and nothing is left to free).
static int run(const cli_command *c, int argc, char **argv) {
    static _Alignas(max_align_t) unsigned char opts[16384];
    assert(c->opts_size <= sizeof opts);
    int rc = c->parse(opts, argc, argv);
    if (rc == CLI_GO && !(rc = c->validate(opts))) rc = c->run(opts);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f, "usage: crvq SUBCOMMAND [options]   (crvq SUBCOMMAND --help for details)\n\n"
               "Channel-Relaxed Vector Quantization of LLaMA-family models.\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i]->name, commands[i]->summary);
}

int main(int argc, char **argv) {
    cli_default_omp_wait(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is(argv[1], "-h", "--help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) return run(commands[i], argc - 1, argv + 1);
    fprintf(stderr, "crvq: error: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
