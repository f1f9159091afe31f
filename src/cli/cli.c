// cli.c — argument helpers shared by every subcommand.
#include "cli/cli.h"
#include "util/fileguard.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
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

int cli_unknown(const char *cmd, const char *arg) {
    fprintf(stderr, "crvq %s: error: unknown argument '%s' (see crvq %s --help)\n", cmd, arg, cmd);
    return 2;
}

int cli_error(const char *cmd, const char *msg) {
    fprintf(stderr, "crvq %s: error: %s\n", cmd, msg ? msg : crvq_last_error());
    return 1;
}

crvq_model *cli_load_model(const char *cmd, const char *model_path, const char *tokenizer_path) {
    if (!model_path) {
        fprintf(stderr, "crvq %s: error: no model given (-m MODEL)\n", cmd);
        return NULL;
    }
    crvq_load_opts opts = {.tokenizer_path = tokenizer_path};
    crvq_model *m = NULL;
    if (crvq_model_load(model_path, &opts, &m) != CRVQ_OK) {
        cli_error(cmd, NULL);
        return NULL;
    }
    // the files the model is made of (shards, config.json, a tokenizer found
    // beside it) are known now: none may be an output
    if (crvq_guard_check() != CRVQ_OK) {
        cli_error(cmd, NULL);
        crvq_model_free(m);
        return NULL;
    }
    return m;
}

void cli_print_json(cJSON *obj) {
    char *s = cJSON_PrintUnformatted(obj);
    if (s) printf("%s\n", s);
    fflush(stdout);
    free(s);
    cJSON_Delete(obj);
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

int cli_files(const char *cmd, const cli_file *files, int n) {
    crvq_status st = CRVQ_OK;
    for (int i = 0; i < n && !st; i++) {
        const cli_file *f = &files[i];
        if (!f->path) continue;
        if (f->role == CLI_INPUT || f->role == CLI_MODEL) st = crvq_guard_input(f->flag, f->path, f->role == CLI_MODEL);
        else st = crvq_guard_output(f->flag, f->path, f->role == CLI_CHECKPOINT ? f->probe : NULL);
    }
    if (!st) st = crvq_guard_check();
    return st ? cli_error(cmd, NULL) : 0;
}

double cli_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t cli_peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}
