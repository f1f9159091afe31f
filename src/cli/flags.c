// flags.c — the shared flag table and the one parsing loop (see flags.h).
#include "cli/flags.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_is(const char *arg, const char *short_name, const char *long_name) {
    return (short_name && strcmp(arg, short_name) == 0) || (long_name && strcmp(arg, long_name) == 0);
}

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "crvq %s: error: %s needs a value (see --help)\n", argv[0], argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

int cli_unknown(const char *cmd, const char *arg) {
    fprintf(stderr, "crvq %s: error: unknown argument '%s' (see crvq %s --help)\n", cmd, arg, cmd);
    return 2;
}

void cli_common_default(cli_common *c) {
    memset(c, 0, sizeof *c);
    c->nsamples = 128;
    c->nval = 16;
    c->seqlen = 512;
    c->device = CRVQ_DEVICE_CPU;
    c->kv_bits = 32;
}

int cli_usage_error(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "crvq %s: error: %s%s%s (see crvq %s --help)\n", cmd, msg, arg ? " " : "", arg ? arg : "", cmd);
    return 2;
}

long long cli_int(const char *flag, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "crvq: error: %s expects an integer in [%lld, %lld], got '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

double cli_double(const char *flag, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "crvq: error: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

int cli_threads(const char *cmd, const char *value) {
    int n = (int)cli_int("--threads", value, 1, INT_MAX);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int cap = cores > 0 && cores < INT_MAX / 4 ? 4 * (int)cores : 4;
    if (n > cap) {
        fprintf(stderr, "crvq %s: warning: --threads %d is more than 4 x the %ld online cores: using %d\n", cmd, n,
                cores, cap);
        n = cap;
    }
    return n;
}

static int parse_threads(const char *cmd, const char *flag, const char *value, void *dst) {
    *(int *)dst = cli_threads(cmd, value);
    return 0;
}

static int parse_device(const char *cmd, const char *flag, const char *value, void *dst) {
    if (strcmp(value, "cpu") && strcmp(value, "cuda"))
        return cli_usage_error(cmd, "--device expects cpu or cuda, got", value);
    *(crvq_device *)dst = strcmp(value, "cpu") ? CRVQ_DEVICE_CUDA : CRVQ_DEVICE_CPU;
    return 0;
}

static int parse_kv_bits(const char *cmd, const char *flag, const char *value, void *dst) {
    if (strcmp(value, "32") && strcmp(value, "8") && strcmp(value, "4"))
        return cli_usage_error(cmd, "--kv-bits expects 32, 8 or 4, got", value);
    *(int *)dst = atoi(value);
    return 0;
}

// The shared flags: the CLI_F_* bit that selects each (CLI_F_WINDOWS: three
// flags), the offset of its field in cli_common.
#define AT(field) offsetof(cli_common, field)
static const struct shared_flag {
    unsigned bit;
    size_t at;
    cli_flag f;
} shared_flags[] = {
    {CLI_F_MODEL, AT(model), CLI_FLAG_STRING("-m", "--model", NULL)},
    {CLI_F_TOKENIZER, AT(tokenizer), CLI_FLAG_STRING(NULL, "--tokenizer", NULL)},
    {CLI_F_FILE, AT(file), CLI_FLAG_STRING("-f", "--file", NULL)},
    {CLI_F_PROMPT, AT(prompt), CLI_FLAG_STRING("-p", "--prompt", NULL)},
    {CLI_F_OUTPUT, AT(output), CLI_FLAG_STRING("-o", "--output", NULL)},
    {CLI_F_CHECKPOINT, AT(checkpoint), CLI_FLAG_STRING(NULL, "--checkpoint", NULL)},
    {CLI_F_RESUME, AT(resume), CLI_FLAG_SET(NULL, "--resume", NULL)},
    {CLI_F_THREADS, AT(threads), CLI_FLAG_CUSTOM(NULL, "--threads", NULL, parse_threads)},
    {CLI_F_JSON, AT(json), CLI_FLAG_SET(NULL, "--json", NULL)},
    {CLI_F_QUIET, AT(quiet), CLI_FLAG_SET(NULL, "--quiet", NULL)},
    {CLI_F_SEED, AT(seed), CLI_FLAG_U64(NULL, "--seed", NULL, 0, LLONG_MAX)},
    {CLI_F_WINDOWS, AT(nsamples), CLI_FLAG_INT(NULL, "--nsamples", NULL, 1, 1 << 20)},
    {CLI_F_WINDOWS, AT(nval), CLI_FLAG_INT(NULL, "--nval", NULL, 0, 1 << 20)},
    {CLI_F_WINDOWS, AT(seqlen), CLI_FLAG_INT(NULL, "--seqlen", NULL, 2, 1 << 20)},
    {CLI_F_DEVICE, AT(device), CLI_FLAG_CUSTOM(NULL, "--device", NULL, parse_device)},
    {CLI_F_KV_BITS, AT(kv_bits), CLI_FLAG_CUSTOM(NULL, "--kv-bits", NULL, parse_kv_bits)},
};
#undef AT

// Store the value of flag f (argv[*i]) at dst; advances *i past a value.
static int take(const char *cmd, const cli_flag *f, void *dst, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (f->kind == CLI_SET) {
        *(int *)dst = 1;
        return 0;
    }
    const char *v = cli_value(argc, argv, i);
    switch (f->kind) {
    case CLI_STRING: *(const char **)dst = v; break;
    case CLI_INT: *(int *)dst = (int)cli_int(a, v, f->lo, f->hi); break;
    case CLI_U64: *(uint64_t *)dst = (uint64_t)cli_int(a, v, f->lo, f->hi); break;
    case CLI_DOUBLE: *(double *)dst = cli_double(a, v, f->flo, f->fhi); break;
    default: return f->parse(cmd, a, v, dst);
    }
    return 0;
}

int cli_parse(const char *cmd, int argc, char **argv, unsigned shared, cli_common *c, const cli_flag *own,
              int n_own, void (*usage)(FILE *)) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = -1;
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        for (int k = 0; k < n_own && rc < 0; k++)
            if (cli_is(a, own[k].short_name, own[k].long_name)) rc = take(cmd, &own[k], own[k].dst, argc, argv, &i);
        for (size_t k = 0; k < sizeof shared_flags / sizeof *shared_flags && rc < 0; k++) {
            const struct shared_flag *s = &shared_flags[k];
            if ((shared & s->bit) && cli_is(a, s->f.short_name, s->f.long_name))
                rc = take(cmd, &s->f, (char *)c + s->at, argc, argv, &i);
        }
        if (rc < 0) return cli_unknown(cmd, a);
        if (rc > 0) return rc;
    }
    return CLI_GO;
}
