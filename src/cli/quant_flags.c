// quant_flags.c — method flags shared by `quantize` and `quantize-matrix`.
#include "cli/quant_flags.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cli_quant_flags_init(cli_quant_flags *f) {
    memset(f, 0, sizeof *f);
    f->max_rounds = -1;
    f->importance = -1;
    f->order = -1;
    f->cg_iters = -1;
    f->damp = f->lambda = f->tol = NAN;
}

static int parse_method(const char *cmd, const char *flag, const char *v, void *dst) {
    cli_quant_flags *f = dst;
    for (int k = CRVQ_METHOD_RTN; k <= CRVQ_METHOD_CRVQ; k++)
        if (strcmp(v, crvq_method_name((crvq_method)k)) == 0) {
            f->method = (crvq_method)k;
            f->have_method = 1;
            return 0;
        }
    return cli_usage_error(cmd, "--method must be rtn, gptq, vq or crvq, got", v);
}

static int parse_importance(const char *cmd, const char *flag, const char *v, void *dst) {
    for (int k = CRVQ_IMPORTANCE_HESSIAN; k <= CRVQ_IMPORTANCE_RANDOM; k++)
        if (strcmp(v, crvq_importance_name((crvq_importance)k)) == 0) {
            *(int *)dst = k;
            return 0;
        }
    return cli_usage_error(cmd, "--importance must be hessian, magnitude or random, got", v);
}

static int parse_order(const char *cmd, const char *flag, const char *v, void *dst) {
    if (strcmp(v, "sort") == 0) *(int *)dst = CRVQ_ORDER_SORT;
    else if (strcmp(v, "partition") == 0) *(int *)dst = CRVQ_ORDER_PARTITION;
    else return cli_usage_error(cmd, "--channel-order must be partition or sort, got", v);
    return 0;
}

// "-e 8" or "-e 8,6,6": up to CRVQ_MAX_CODEBOOKS values in [1, 16].
static int parse_e_list(const char *cmd, const char *flag, const char *s, void *dst) {
    cli_quant_flags *f = dst;
    size_t len = strlen(s);
    char buf[256];
    int ok = len > 0 && len < sizeof buf && s[0] != ',' && s[len - 1] != ',' && !strstr(s, ",,");
    if (ok) snprintf(buf, sizeof buf, "%s", s);
    f->n_e = 0;
    for (char *save = NULL, *tok = ok ? strtok_r(buf, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        if (f->n_e == CRVQ_MAX_CODEBOOKS) {
            ok = 0;
            break;
        }
        f->e[f->n_e++] = (int)cli_int("-e", tok, 1, 16);
    }
    return ok ? 0 : cli_usage_error(cmd, "-e expects E or a comma-separated list of up to 8 values in [1, 16], got", s);
}

int cli_quant_flag_rows(cli_quant_flags *f, cli_flag *rows) {
    const cli_flag t[CLI_QUANT_N_FLAGS] = {
        CLI_FLAG_CUSTOM(NULL, "--method", f, parse_method),
        CLI_FLAG_INT(NULL, "--bits", &f->bits, 1, 8),
        CLI_FLAG_INT(NULL, "--group-size", &f->group_size, 1, INT_MAX),
        CLI_FLAG_DOUBLE(NULL, "--damp", &f->damp, 0, 1),
        CLI_FLAG_SET(NULL, "--act-order", &f->act_order),
        CLI_FLAG_INT(NULL, "--block-size", &f->block_size, 1, INT_MAX),
        CLI_FLAG_INT("-d", NULL, &f->d, 1, INT_MAX),
        CLI_FLAG_INT("-M", NULL, &f->M, 1, CRVQ_MAX_CODEBOOKS),
        CLI_FLAG_CUSTOM("-e", NULL, f, parse_e_list),
        CLI_FLAG_DOUBLE(NULL, "--lambda", &f->lambda, 0, 1),
        CLI_FLAG_CUSTOM(NULL, "--importance", &f->importance, parse_importance),
        CLI_FLAG_CUSTOM(NULL, "--channel-order", &f->order, parse_order),
        CLI_FLAG_INT(NULL, "--beam", &f->beam, 1, 4096),
        CLI_FLAG_DOUBLE(NULL, "--tol", &f->tol, 0, 1e9),
        CLI_FLAG_INT(NULL, "--max-rounds", &f->max_rounds, 0, 1000000),
        CLI_FLAG_INT(NULL, "--kmeans-iters", &f->kmeans_iters, 1, 1000000),
        CLI_FLAG_INT(NULL, "--cg-iters", &f->cg_iters, 0, 1000),
    };
    memcpy(rows, t, sizeof t);
    return CLI_QUANT_N_FLAGS;
}

int cli_quant_is_scalar(crvq_method m) { return m == CRVQ_METHOD_RTN || m == CRVQ_METHOD_GPTQ; }

int cli_quant_params(const char *cmd, const cli_quant_flags *o, uint64_t seed, crvq_quant_params *p) {
    crvq_method method = o->method;
    crvq_quant_params_default(p, method);
    p->seed = seed;
    const char *name = crvq_method_name(method);
    if (cli_quant_is_scalar(method)) {
        if (o->d || o->M || o->n_e || o->beam || o->max_rounds >= 0 || o->kmeans_iters || o->cg_iters >= 0 ||
            o->importance >= 0 || o->order >= 0 || !isnan(o->lambda) || !isnan(o->tol))
            return cli_usage_error(cmd, "vector-method flags (-d, -M, -e, --lambda, --importance, --beam, --tol, "
                                    "--max-rounds, --kmeans-iters, --cg-iters) do not apply to", name);
        if (method == CRVQ_METHOD_RTN && (o->act_order || o->block_size || !isnan(o->damp)))
            return cli_usage_error(cmd, "--damp, --act-order and --block-size apply to gptq, not", name);
        if (o->bits) p->bits = o->bits;
        if (o->group_size) p->group_size = o->group_size;
        if (o->block_size) p->block_size = o->block_size;
        if (!isnan(o->damp)) p->damp = o->damp;
        p->act_order = o->act_order;
        return 0;
    }
    if (o->bits || o->group_size || o->block_size || o->act_order || !isnan(o->damp))
        return cli_usage_error(cmd, "scalar-method flags (--bits, --group-size, --damp, --act-order, --block-size) "
                                "do not apply to", name);
    if (method == CRVQ_METHOD_VQ && (!isnan(o->lambda) || o->importance >= 0 || o->order >= 0))
        return cli_usage_error(cmd, "--lambda, --importance and --channel-order apply to crvq, not", name);
    if (o->d) p->d = o->d;
    if (o->M) p->M = o->M;
    else if (o->n_e > 1) p->M = o->n_e;
    if (o->n_e == 1)
        for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) p->e[k] = o->e[0];
    else if (o->n_e > 1) {
        if (o->n_e != p->M) {
            fprintf(stderr, "crvq %s: error: -e lists %d codebook sizes but -M is %d (see crvq %s --help)\n", cmd,
                    o->n_e, p->M, cmd);
            return 2;
        }
        for (int k = 0; k < o->n_e; k++) p->e[k] = o->e[k];
    }
    if (!isnan(o->lambda)) p->lambda = o->lambda;
    if (o->importance >= 0) p->importance = (crvq_importance)o->importance;
    if (o->order >= 0) p->order = (crvq_channel_order)o->order;
    if (o->beam) p->beam = o->beam;
    if (!isnan(o->tol)) p->tol = o->tol;
    if (o->max_rounds >= 0) p->max_rounds = o->max_rounds;
    if (o->kmeans_iters) p->kmeans_iters = o->kmeans_iters;
    if (o->cg_iters >= 0) p->cg_iters = o->cg_iters;
    return 0;
}

void cli_quant_usage(FILE *f) {
    fprintf(f, "method:\n"
               "  --method M             rtn, gptq, vq or crvq\n"
               "scalar methods (rtn, gptq):\n"
               "  --bits B               bits per weight code, 1..8 (default 2)\n"
               "  --group-size G         columns per scale/zero group; divides IN (default 128)\n"
               "  --damp F               gptq: damping, fraction of mean diag(H) (default 0.01)\n"
               "  --act-order            gptq: quantize columns by descending diag(H)\n"
               "  --block-size N         gptq: columns per lazy-update block (default 128)\n"
               "vector methods (vq, crvq):\n"
               "  -d D                   vector dimension; divides IN (default 8)\n"
               "  -M M                   codebooks (default: vq 1, crvq 4)\n"
               "  -e E | -e E1,E2,..     bits per codebook, 1..16: one value for all, or one per\n"
               "                         codebook (then -M defaults to their count) (default 8)\n"
               "  --lambda L             crvq: fraction of critical input channels (default 0.02)\n"
               "  --importance I         crvq: hessian, magnitude or random (default hessian)\n"
               "  --channel-order O      crvq: partition (critical channels first, the rest in their\n"
               "                         order; default) or sort (all channels by importance, as the paper)\n"
               "  --beam B               beam width of the code search (default 1: greedy)\n"
               "  --tol T                stop when a round improves L by less than T (default 0.01)\n"
               "  --max-rounds N         at most N alternating rounds (default 50)\n"
               "  --kmeans-iters N       k-means iterations of the codebook initialisation (default 20)\n"
               "  --cg-iters N           conjugate-gradient steps per continuous update (default 1)\n");
}

void cli_quant_describe(const crvq_quant_params *p, char *buf, size_t cap) {
    if (p->method == CRVQ_METHOD_RTN) {
        snprintf(buf, cap, "bits %d, group %d", p->bits, p->group_size);
    } else if (p->method == CRVQ_METHOD_GPTQ) {
        snprintf(buf, cap, "bits %d, group %d, damp %g, act-order %s, block %d", p->bits, p->group_size, p->damp,
                 p->act_order ? "on" : "off", p->block_size);
    } else {
        int n = snprintf(buf, cap, "d %d, M %d, e ", p->d, p->M);
        for (int k = 0; k < p->M && (size_t)n < cap; k++) n += snprintf(buf + n, cap - n, "%s%d", k ? "," : "", p->e[k]);
        if ((size_t)n < cap && p->method == CRVQ_METHOD_CRVQ)
            n += snprintf(buf + n, cap - n, ", lambda %g, importance %s, order %s", p->lambda,
                          crvq_importance_name(p->importance), crvq_channel_order_name(p->order));
        if ((size_t)n < cap)
            snprintf(buf + n, cap - n, ", beam %d, tol %g, max rounds %d, k-means iters %d, seed %llu", p->beam, p->tol,
                     p->max_rounds, p->kmeans_iters, (unsigned long long)p->seed);
    }
}

cJSON *cli_quant_params_json(const crvq_quant_params *p) {
    cJSON *o = cJSON_CreateObject();
    if (cli_quant_is_scalar(p->method)) {
        cJSON_AddNumberToObject(o, "bits", p->bits);
        cJSON_AddNumberToObject(o, "group_size", p->group_size);
        if (p->method == CRVQ_METHOD_GPTQ) {
            cJSON_AddNumberToObject(o, "damp", p->damp);
            cJSON_AddBoolToObject(o, "act_order", p->act_order);
            cJSON_AddNumberToObject(o, "block_size", p->block_size);
        }
        return o;
    }
    cJSON_AddNumberToObject(o, "d", p->d);
    cJSON_AddNumberToObject(o, "M", p->M);
    cJSON *e = cJSON_AddArrayToObject(o, "e");
    for (int k = 0; k < p->M; k++) cJSON_AddItemToArray(e, cJSON_CreateNumber(p->e[k]));
    if (p->method == CRVQ_METHOD_CRVQ) {
        cJSON_AddNumberToObject(o, "lambda", p->lambda);
        cJSON_AddStringToObject(o, "importance", crvq_importance_name(p->importance));
        cJSON_AddStringToObject(o, "channel_order", crvq_channel_order_name(p->order));
    }
    cJSON_AddNumberToObject(o, "beam", p->beam);
    cJSON_AddNumberToObject(o, "tol", p->tol);
    cJSON_AddNumberToObject(o, "max_rounds", p->max_rounds);
    cJSON_AddNumberToObject(o, "kmeans_iters", p->kmeans_iters);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    return o;
}
