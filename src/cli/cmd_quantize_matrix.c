// cmd_quantize_matrix.c — `crvq quantize-matrix`: quantize one layer (a
// synthetic one, or W and H from .npy files) with any method and report
// bits per weight, relative loss L(Ŵ)/L(0) and time. The measuring tool
// behind bench/quant_matrix.sh.
#include "cli/cli.h"
#include "io/npy.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "quantize-matrix";

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq quantize-matrix (--synthetic OUTxIN [--seed S] | --weight W.npy --hessian H.npy)\n"
            "                            --method rtn|gptq|vq|crvq [options]\n\n"
            "Quantize one linear layer W (OUT x IN) against its proxy Hessian H = XᵀX/N (IN x IN)\n"
            "and report bits per weight (everything counted), the relative layer loss\n"
            "L(Ŵ)/L(0) with L(Ŵ) = Σ_r (w_r − ŵ_r) H (w_r − ŵ_r)ᵀ, and the time of the method.\n\n"
            "layer:\n"
            "  --synthetic OUTxIN     a synthetic LLM-like layer (docs/quantization.md)\n"
            "  --seed S               seed of the synthetic layer and of the method (default 0)\n"
            "  --weight W.npy         2-D float32/float64 weight (OUT, IN), C order\n"
            "  --hessian H.npy        2-D float32/float64 Hessian (IN, IN)\n"
            "  --save-weight F.npy    write W (float32), e.g. of a synthetic layer\n"
            "  --save-hessian F.npy   write H (float64)\n"
            "  --save-reconstruction F.npy  write Ŵ (float32, original column order)\n\n"
            "method:\n"
            "  --method M             rtn, gptq, vq or crvq (required)\n"
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
            "  --beam B               beam width of the code search (default 1: greedy)\n"
            "  --tol T                stop when a round improves L by less than T (default 0.01)\n"
            "  --max-rounds N         at most N alternating rounds (default 50)\n"
            "  --kmeans-iters N       k-means iterations of the codebook initialisation (default 20)\n\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n");
}

// Which parameters the command line set; the rest keep the method's defaults.
typedef struct {
    int bits, group_size, block_size, act_order, d, M, n_e, e[CRVQ_MAX_CODEBOOKS], beam, max_rounds,
        kmeans_iters, importance;
    double damp, lambda, tol;
} overrides;

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "crvq %s: error: %s%s%s (see crvq %s --help)\n", cmd, msg, arg ? " " : "", arg ? arg : "", cmd);
    return 2;
}

static int parse_method(const char *s, crvq_method *m) {
    for (int k = CRVQ_METHOD_RTN; k <= CRVQ_METHOD_CRVQ; k++)
        if (strcmp(s, crvq_method_name((crvq_method)k)) == 0) {
            *m = (crvq_method)k;
            return 1;
        }
    return 0;
}

static int parse_importance(const char *s, int *r) {
    for (int k = CRVQ_IMPORTANCE_HESSIAN; k <= CRVQ_IMPORTANCE_RANDOM; k++)
        if (strcmp(s, crvq_importance_name((crvq_importance)k)) == 0) {
            *r = k;
            return 1;
        }
    return 0;
}

// "OUTxIN" with both in [1, INT_MAX].
static int parse_shape(const char *s, int *m_out, int *n_in) {
    char *end;
    long long a = strtoll(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return 0;
    const char *t = end + 1;
    long long b = strtoll(t, &end, 10);
    if (end == t || *end || a < 1 || b < 1 || a > INT_MAX || b > INT_MAX) return 0;
    *m_out = (int)a;
    *n_in = (int)b;
    return 1;
}

// "-e 8" or "-e 8,6,6": up to CRVQ_MAX_CODEBOOKS values in [1, 16].
static int parse_e_list(const char *s, overrides *o) {
    size_t len = strlen(s);
    if (len == 0 || len >= 256 || s[0] == ',' || s[len - 1] == ',' || strstr(s, ",,")) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_e = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_e == CRVQ_MAX_CODEBOOKS) return 0;
        o->e[o->n_e++] = (int)cli_int("-e", tok, 1, 16);
    }
    return 1;
}

static int is_scalar(crvq_method m) { return m == CRVQ_METHOD_RTN || m == CRVQ_METHOD_GPTQ; }

// Defaults of the method, then what the command line set; flags that do not
// apply to the method are usage errors rather than silently ignored.
static int build_params(crvq_method method, const overrides *o, uint64_t seed, crvq_quant_params *p) {
    crvq_quant_params_default(p, method);
    p->seed = seed;
    const char *name = crvq_method_name(method);
    if (is_scalar(method)) {
        if (o->d || o->M || o->n_e || o->beam || o->max_rounds >= 0 || o->kmeans_iters || o->importance >= 0 ||
            !isnan(o->lambda) || !isnan(o->tol))
            return usage_error("vector-method flags (-d, -M, -e, --lambda, --importance, --beam, --tol, "
                               "--max-rounds, --kmeans-iters) do not apply to", name);
        if (method == CRVQ_METHOD_RTN && (o->act_order || o->block_size || !isnan(o->damp)))
            return usage_error("--damp, --act-order and --block-size apply to gptq, not", name);
        if (o->bits) p->bits = o->bits;
        if (o->group_size) p->group_size = o->group_size;
        if (o->block_size) p->block_size = o->block_size;
        if (!isnan(o->damp)) p->damp = o->damp;
        p->act_order = o->act_order;
        return 0;
    }
    if (o->bits || o->group_size || o->block_size || o->act_order || !isnan(o->damp))
        return usage_error("scalar-method flags (--bits, --group-size, --damp, --act-order, --block-size) "
                           "do not apply to", name);
    if (method == CRVQ_METHOD_VQ && (!isnan(o->lambda) || o->importance >= 0))
        return usage_error("--lambda and --importance apply to crvq, not", name);
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
    if (o->beam) p->beam = o->beam;
    if (!isnan(o->tol)) p->tol = o->tol;
    if (o->max_rounds >= 0) p->max_rounds = o->max_rounds;
    if (o->kmeans_iters) p->kmeans_iters = o->kmeans_iters;
    return 0;
}

static void describe_params(const crvq_quant_params *p, char *buf, size_t cap) {
    if (p->method == CRVQ_METHOD_RTN) {
        snprintf(buf, cap, "bits %d, group %d", p->bits, p->group_size);
    } else if (p->method == CRVQ_METHOD_GPTQ) {
        snprintf(buf, cap, "bits %d, group %d, damp %g, act-order %s, block %d", p->bits, p->group_size, p->damp,
                 p->act_order ? "on" : "off", p->block_size);
    } else {
        int n = snprintf(buf, cap, "d %d, M %d, e ", p->d, p->M);
        for (int k = 0; k < p->M && (size_t)n < cap; k++) n += snprintf(buf + n, cap - n, "%s%d", k ? "," : "", p->e[k]);
        if ((size_t)n < cap && p->method == CRVQ_METHOD_CRVQ)
            n += snprintf(buf + n, cap - n, ", lambda %g, importance %s", p->lambda, crvq_importance_name(p->importance));
        if ((size_t)n < cap)
            snprintf(buf + n, cap - n, ", beam %d, tol %g, max rounds %d, k-means iters %d, seed %llu", p->beam, p->tol,
                     p->max_rounds, p->kmeans_iters, (unsigned long long)p->seed);
    }
}

static cJSON *params_json(const crvq_quant_params *p) {
    cJSON *o = cJSON_CreateObject();
    if (is_scalar(p->method)) {
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
    }
    cJSON_AddNumberToObject(o, "beam", p->beam);
    cJSON_AddNumberToObject(o, "tol", p->tol);
    cJSON_AddNumberToObject(o, "max_rounds", p->max_rounds);
    cJSON_AddNumberToObject(o, "kmeans_iters", p->kmeans_iters);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    return o;
}

// W (m_out, n_in) as float32 and H (n_in, n_in) as float64 from .npy files.
static int load_npy(const char *w_path, const char *h_path, float **W, double **H, int *m_out, int *n_in) {
    int64_t wr, wc, hr, hc;
    if (crvq_npy_read(w_path, CRVQ_F32, (void **)W, &wr, &wc) != CRVQ_OK) return cli_error(cmd, NULL);
    if (crvq_npy_read(h_path, CRVQ_F64, (void **)H, &hr, &hc) != CRVQ_OK) return cli_error(cmd, NULL);
    char msg[512];
    if (wr < 1 || wc < 1 || wr > INT_MAX || wc > INT_MAX) {
        snprintf(msg, sizeof msg, "%s: weight has shape (%lld, %lld); both dimensions must be in [1, %d]", w_path,
                 (long long)wr, (long long)wc, INT_MAX);
        return cli_error(cmd, msg);
    }
    if (hr != wc || hc != wc) {
        snprintf(msg, sizeof msg, "%s: Hessian has shape (%lld, %lld), expected (%lld, %lld) for the weight's %lld inputs",
                 h_path, (long long)hr, (long long)hc, (long long)wc, (long long)wc, (long long)wc);
        return cli_error(cmd, msg);
    }
    *m_out = (int)wr;
    *n_in = (int)wc;
    return 0;
}

int cmd_quantize_matrix(int argc, char **argv) {
    const char *synthetic = NULL, *w_path = NULL, *h_path = NULL, *save_w = NULL, *save_h = NULL, *save_rec = NULL;
    int have_method = 0, json = 0, threads = -1;
    crvq_method method = CRVQ_METHOD_RTN;
    uint64_t seed = 0;
    overrides o = {.max_rounds = -1, .importance = -1, .damp = NAN, .lambda = NAN, .tol = NAN};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, NULL, "--synthetic")) {
            synthetic = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--seed")) {
            seed = (uint64_t)cli_int(a, cli_value(argc, argv, &i), 0, LLONG_MAX);
        } else if (cli_is(a, NULL, "--weight")) {
            w_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--hessian")) {
            h_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--save-weight")) {
            save_w = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--save-hessian")) {
            save_h = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--save-reconstruction")) {
            save_rec = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--method")) {
            const char *v = cli_value(argc, argv, &i);
            if (!parse_method(v, &method)) return usage_error("--method must be rtn, gptq, vq or crvq, got", v);
            have_method = 1;
        } else if (cli_is(a, NULL, "--bits")) {
            o.bits = (int)cli_int(a, cli_value(argc, argv, &i), 1, 8);
        } else if (cli_is(a, NULL, "--group-size")) {
            o.group_size = (int)cli_int(a, cli_value(argc, argv, &i), 1, INT_MAX);
        } else if (cli_is(a, NULL, "--damp")) {
            o.damp = cli_double(a, cli_value(argc, argv, &i), 0, 1);
        } else if (cli_is(a, NULL, "--act-order")) {
            o.act_order = 1;
        } else if (cli_is(a, NULL, "--block-size")) {
            o.block_size = (int)cli_int(a, cli_value(argc, argv, &i), 1, INT_MAX);
        } else if (cli_is(a, "-d", NULL)) {
            o.d = (int)cli_int(a, cli_value(argc, argv, &i), 1, INT_MAX);
        } else if (cli_is(a, "-M", NULL)) {
            o.M = (int)cli_int(a, cli_value(argc, argv, &i), 1, CRVQ_MAX_CODEBOOKS);
        } else if (cli_is(a, "-e", NULL)) {
            const char *v = cli_value(argc, argv, &i);
            if (!parse_e_list(v, &o))
                return usage_error("-e expects E or a comma-separated list of up to 8 values in [1, 16], got", v);
        } else if (cli_is(a, NULL, "--lambda")) {
            o.lambda = cli_double(a, cli_value(argc, argv, &i), 0, 1);
        } else if (cli_is(a, NULL, "--importance")) {
            const char *v = cli_value(argc, argv, &i);
            if (!parse_importance(v, &o.importance))
                return usage_error("--importance must be hessian, magnitude or random, got", v);
        } else if (cli_is(a, NULL, "--beam")) {
            o.beam = (int)cli_int(a, cli_value(argc, argv, &i), 1, 4096);
        } else if (cli_is(a, NULL, "--tol")) {
            o.tol = cli_double(a, cli_value(argc, argv, &i), 0, 1e9);
        } else if (cli_is(a, NULL, "--max-rounds")) {
            o.max_rounds = (int)cli_int(a, cli_value(argc, argv, &i), 0, 1000000);
        } else if (cli_is(a, NULL, "--kmeans-iters")) {
            o.kmeans_iters = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1000000);
        } else if (cli_is(a, NULL, "--threads")) {
            threads = (int)cli_int(a, cli_value(argc, argv, &i), 0, 4096);
        } else if (cli_is(a, NULL, "--json")) {
            json = 1;
        } else {
            return cli_unknown(cmd, a);
        }
    }
    if (!have_method) return usage_error("--method is required", NULL);
    if (!synthetic == !w_path) return usage_error("give either --synthetic OUTxIN or --weight W.npy --hessian H.npy", NULL);
    if (!w_path != !h_path) return usage_error("--weight and --hessian go together", NULL);
    int m_out = 0, n_in = 0;
    if (synthetic && !parse_shape(synthetic, &m_out, &n_in))
        return usage_error("--synthetic expects OUTxIN with positive integers, e.g. 4096x11008, got", synthetic);
    crvq_quant_params p;
    int rc = build_params(method, &o, seed, &p);
    if (rc) return rc;
    if (threads >= 0) crvq_set_threads(threads);

    float *W = NULL;
    double *H = NULL;
    crvq_quant_result res = {0};
    double gen_seconds = 0;
    rc = 1;
    if (synthetic) {
        size_t P = (size_t)m_out * n_in, N = (size_t)n_in * n_in;
        W = malloc(P * sizeof *W);
        H = malloc(N * sizeof *H);
        if (!W || !H) {
            cli_error(cmd, "out of memory for the synthetic layer");
            goto done;
        }
        double t0 = cli_seconds();
        if (crvq_synthetic_layer(m_out, n_in, seed, W, H) != CRVQ_OK) {
            cli_error(cmd, NULL);
            goto done;
        }
        gen_seconds = cli_seconds() - t0;
    } else if (load_npy(w_path, h_path, &W, &H, &m_out, &n_in)) {
        goto done;
    }
    if ((save_w && crvq_npy_write(save_w, CRVQ_F32, W, m_out, n_in) != CRVQ_OK) ||
        (save_h && crvq_npy_write(save_h, CRVQ_F64, H, n_in, n_in) != CRVQ_OK)) {
        cli_error(cmd, NULL);
        goto done;
    }
    if (crvq_quantize_matrix(W, m_out, n_in, H, &p, &res) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    if (save_rec && crvq_npy_write(save_rec, CRVQ_F32, res.w_hat, m_out, n_in) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    // L(0) = 0 only when W is invisible to H; the ratio is then undefined.
    double rel = res.loss0 > 0 ? res.loss / res.loss0 : NAN;
    char desc[512];
    describe_params(&p, desc, sizeof desc);
    if (synthetic)
        printf("layer          synthetic %dx%d, seed %llu (generated in %.2f s)\n", m_out, n_in,
               (unsigned long long)seed, gen_seconds);
    else
        printf("layer          %s (%dx%d), Hessian %s\n", w_path, m_out, n_in, h_path);
    printf("method         %s (%s)\n", crvq_method_name(method), desc);
    printf("bits/weight    %.4f\n", res.bits);
    printf("relative loss  %.6g   (L = %.6g, L(0) = %.6g)\n", rel, res.loss, res.loss0);
    printf("seconds        %.3f\n", res.seconds);
    if (!is_scalar(method)) printf("rounds         %d\n", res.rounds);
    printf("threads        %d\n", crvq_get_threads());
    if (res.damp_added > 0)
        printf("note           H was not positive semi-definite: added %g x mean diag(H) to its diagonal\n",
               res.damp_added);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "method", crvq_method_name(method));
        cJSON_AddStringToObject(j, "source", synthetic ? "synthetic" : "npy");
        if (synthetic) cJSON_AddNumberToObject(j, "seed", (double)seed);
        cJSON_AddNumberToObject(j, "m_out", m_out);
        cJSON_AddNumberToObject(j, "n_in", n_in);
        cJSON_AddNumberToObject(j, "bits", res.bits);
        cJSON_AddNumberToObject(j, "rel_loss", rel); // NaN prints as null
        cJSON_AddNumberToObject(j, "loss", res.loss);
        cJSON_AddNumberToObject(j, "loss0", res.loss0);
        cJSON_AddNumberToObject(j, "seconds", res.seconds);
        cJSON_AddNumberToObject(j, "rounds", res.rounds);
        cJSON_AddNumberToObject(j, "threads", crvq_get_threads());
        cJSON_AddNumberToObject(j, "damp_added", res.damp_added);
        cJSON_AddItemToObject(j, "params", params_json(&p));
        cli_print_json(j);
    }
    rc = 0;
done:
    crvq_quant_result_free(&res);
    free(W);
    free(H);
    return rc;
}
