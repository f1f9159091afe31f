// flags.h — every command's flags as data, parsed by one loop.
//
// A command names the shared flags it takes (CLI_F_* bits: one table in
// flags.c gives each its spelling, bounds and field of cli_common, so
// --threads, --seed or --nsamples mean the same everywhere) and passes a
// table of its own flags. Arguments are taken in order; a bad value exits 2
// with a message naming the flag, an unknown argument returns 2.
#ifndef CRVQ_CLI_FLAGS_H
#define CRVQ_CLI_FLAGS_H

#include "crvq.h"

#include <stdio.h>

// What the shared flags set. Fields a command does not take keep their defaults.
typedef struct cli_common {
    const char *model, *tokenizer; // -m, --tokenizer
    const char *file, *prompt;     // -f, -p
    const char *output, *checkpoint;
    int threads;                   // 0: not given
    int json, quiet, resume;
    uint64_t seed;
    int nsamples, nval, seqlen;    // calibration / training windows (128, 16, 512)
    crvq_device device;            // --device cpu|cuda (default cpu)
    int kv_bits;                   // --kv-bits 32|8|4 (default 32)
} cli_common;

enum {
    CLI_F_MODEL = 1 << 0,      // -m, --model PATH
    CLI_F_TOKENIZER = 1 << 1,  // --tokenizer PATH
    CLI_F_FILE = 1 << 2,       // -f, --file PATH
    CLI_F_PROMPT = 1 << 3,     // -p, --prompt TEXT
    CLI_F_OUTPUT = 1 << 4,     // -o, --output PATH
    CLI_F_CHECKPOINT = 1 << 5, // --checkpoint PATH
    CLI_F_RESUME = 1 << 6,     // --resume
    CLI_F_THREADS = 1 << 7,    // --threads N
    CLI_F_JSON = 1 << 8,       // --json
    CLI_F_QUIET = 1 << 9,      // --quiet
    CLI_F_SEED = 1 << 10,      // --seed S (0..2^63-1)
    CLI_F_WINDOWS = 1 << 11,   // --nsamples N, --nval N, --seqlen N
    CLI_F_DEVICE = 1 << 12,    // --device cpu|cuda
    CLI_F_KV_BITS = 1 << 13,   // --kv-bits 32|8|4
};

typedef enum cli_kind {
    CLI_STRING, // const char **
    CLI_INT,    // int *, in [lo, hi]
    CLI_U64,    // uint64_t *, in [lo, hi]
    CLI_DOUBLE, // double *, in [flo, fhi]
    CLI_SET,    // int *: set to 1, takes no value
    CLI_CUSTOM, // parse(cmd, flag, value, dst): 0, or the exit code of a usage error
} cli_kind;

typedef struct cli_flag {
    const char *short_name, *long_name; // either may be NULL
    cli_kind kind;
    void *dst;
    long long lo, hi;
    double flo, fhi;
    int (*parse)(const char *cmd, const char *flag, const char *value, void *dst);
} cli_flag;

// Table rows: short and long spelling (either may be NULL), destination, bounds.
#define CLI_FLAG_STRING(S, L, DST) {.short_name = S, .long_name = L, .kind = CLI_STRING, .dst = DST}
#define CLI_FLAG_INT(S, L, DST, LO, HI) {.short_name = S, .long_name = L, .kind = CLI_INT, .dst = DST, .lo = LO, .hi = HI}
#define CLI_FLAG_U64(S, L, DST, LO, HI) {.short_name = S, .long_name = L, .kind = CLI_U64, .dst = DST, .lo = LO, .hi = HI}
#define CLI_FLAG_DOUBLE(S, L, DST, LO, HI) \
    {.short_name = S, .long_name = L, .kind = CLI_DOUBLE, .dst = DST, .flo = LO, .fhi = HI}
#define CLI_FLAG_SET(S, L, DST) {.short_name = S, .long_name = L, .kind = CLI_SET, .dst = DST}
#define CLI_FLAG_CUSTOM(S, L, DST, FN) {.short_name = S, .long_name = L, .kind = CLI_CUSTOM, .dst = DST, .parse = FN}

// The help line of --kv-bits, the same in every command that takes it.
#define CLI_KV_BITS_HELP \
    "  --kv-bits B          KV cache: 32 = float32 (default), 8 or 4 = symmetric integer\n" \
    "                       groups of 32 values with an fp16 scale, quantized when stored\n"

#define CLI_GO (-1) // cli_parse: go on with the command

// Parse argv[1..] (argv[0] is the subcommand) into c (the shared flags in
// `shared`) and the destinations of `own`. -h / --help prints usage to
// stdout and returns 0. Returns CLI_GO, or the exit code to return.
int cli_parse(const char *cmd, int argc, char **argv, unsigned shared, cli_common *c, const cli_flag *own,
              int n_own, void (*usage)(FILE *));

void cli_common_default(cli_common *c);

// True if `arg` is the short or the long spelling of a flag (short may be NULL).
int cli_is(const char *arg, const char *short_name, const char *long_name);
// The value after flag argv[*i]; advances *i. Exits 2 with a message if missing.
const char *cli_value(int argc, char **argv, int *i);
// Report an unknown argument and return 2.
int cli_unknown(const char *cmd, const char *arg);

// "crvq CMD: error: MSG ARG (see crvq CMD --help)"; returns 2.
int cli_usage_error(const char *cmd, const char *msg, const char *arg);

// A number given to `flag`, as cli_parse checks it: exits 2 with a message
// unless it is one and in [lo, hi].
long long cli_int(const char *flag, const char *s, long long lo, long long hi);
double cli_double(const char *flag, const char *s, double lo, double hi);

// --threads N: at least 1; more than 4 x the online cores is clamped to that
// with a warning (oversubscribed OpenMP barriers cost far more than they
// give: 4096 threads made a 0.3 s job take a minute). Exits 2 on a bad value.
int cli_threads(const char *cmd, const char *value);

#endif
