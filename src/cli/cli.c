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

int cli_error(const char *cmd, const char *msg) {
    fprintf(stderr, "crvq %s: error: %s\n", cmd, msg ? msg : crvq_last_error());
    return 1;
}

int cli_need_model(const char *cmd, const char *model) {
    if (model) return 0;
    fprintf(stderr, "crvq %s: error: no model given (-m MODEL, see --help)\n", cmd);
    return 2;
}

int cli_device_ready(const char *cmd, crvq_device dev, int kv_bits) {
    char why[256];
    if (dev != CRVQ_DEVICE_CPU && kv_bits != 32)
        snprintf(why, sizeof why, "the GPU keeps a float32 KV cache; --kv-bits %d runs on the CPU only", kv_bits);
    else if (crvq_backend_available(dev, why, sizeof why))
        return 0;
    fprintf(stderr, "crvq %s: error: --device %s: %s\n", cmd, crvq_device_name(dev), why);
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

crvq_model *cli_open_for_inference(const char *cmd, const cli_common *c, const char *tokenizer_path) {
    if (c->threads) crvq_set_threads(c->threads);
    if (cli_device_ready(cmd, c->device, c->kv_bits)) return NULL;
    return cli_load_model(cmd, c->model, tokenizer_path);
}

void cli_print_json(cJSON *obj) {
    char *s = cJSON_PrintUnformatted(obj);
    if (s) printf("%s\n", s);
    fflush(stdout);
    free(s);
    cJSON_Delete(obj);
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

// The i-th tensor that may be compressed (0 <= i < n_layers · 7 + 2): the
// projections of every block in order, then the output head and the token
// embedding. Returns 0 when it is dense, or is the tied head (the embedding).
int cli_compressed_tensor(const crvq_model *m, int i, char *name, size_t cap, crvq_linear *lin) {
    const crvq_config *c = &m->cfg;
    int n_proj = c->n_layers * CRVQ_PROJ_COUNT;
    if (i < n_proj) {
        *lin = *crvq_layer_proj(&m->layers[i / CRVQ_PROJ_COUNT], i % CRVQ_PROJ_COUNT);
        snprintf(name, cap, "blk.%d.%s", i / CRVQ_PROJ_COUNT, crvq_proj_name(i % CRVQ_PROJ_COUNT));
    } else if (i == n_proj) {
        if (c->tied_embeddings) return 0;
        *lin = m->output;
        snprintf(name, cap, "output");
    } else {
        if (!m->tok_embd_q) return 0;
        *lin = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = c->vocab_size, .n_in = c->dim, .sq = m->tok_embd_q};
        snprintf(name, cap, "token_embd");
    }
    return lin->kind != CRVQ_LINEAR_DENSE;
}

int cli_n_tensor_slots(const crvq_model *m) {
    return m->cfg.n_layers * CRVQ_PROJ_COUNT + 2;
}

// Every compressed layer as JSON objects {name, shape, kind, d, M, e, n_crit,
// n_groups, perm | bits, group_size; bpw} (crvq info, crvq quantize).
cJSON *cli_layers_json(const crvq_model *m) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < cli_n_tensor_slots(m); i++) {
        char name[48];
        crvq_linear lin;
        if (!cli_compressed_tensor(m, i, name, sizeof name, &lin)) continue;
        crvq_linear_desc d;
        crvq_linear_describe(&lin, &d);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(lin.n_out));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(lin.n_in));
        cJSON_AddStringToObject(o, "kind", d.kind);
        if (lin.kind == CRVQ_LINEAR_VQ) {
            cJSON_AddNumberToObject(o, "d", d.d);
            cJSON_AddNumberToObject(o, "M", d.M);
            cJSON_AddItemToObject(o, "e", cJSON_CreateIntArray(d.e, d.M));
            cJSON_AddNumberToObject(o, "n_crit", d.n_crit);
            cJSON_AddNumberToObject(o, "n_groups", d.n_groups);
            cJSON_AddBoolToObject(o, "perm", d.permuted);
        } else {
            cJSON_AddNumberToObject(o, "bits", d.bits);
            cJSON_AddNumberToObject(o, "group_size", d.group_size);
        }
        cJSON_AddNumberToObject(o, "bpw", d.bpw);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
