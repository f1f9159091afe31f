// cmd_quantize_matrix.c — `crvq quantize-matrix`: quantize one layer (a
// synthetic one, or W and H from .npy files) with any method and report
// bits per weight, relative loss L(Ŵ)/L(0) and time. The measuring tool
// behind bench/quant_matrix.sh.
#include "cli/cli.h"
#include "cli/quant_flags.h"
#include "io/npy.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            );
    cli_quant_usage(f);
    fprintf(f,
            "  --device cpu|cuda      where vq and crvq run (default cpu; cuda: docs/cuda.md)\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n");
}

static const char *cmd = "quantize-matrix";

static int usage_error(const char *msg, const char *arg) { return cli_usage_error(cmd, msg, arg); }

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

// Stage times and L/L(0) round by round (vector methods).
static void print_trace(const crvq_quant_result *r, crvq_device dev) {
    const crvq_vq_trace *t = &r->trace;
    printf("device         %s\n", crvq_device_name(dev));
    printf("stages         prepare %.3f s, importance %.3f s, k-means %.3f s, set-up %.3f s\n", t->seconds_prepare,
           t->seconds_importance, t->seconds_kmeans, t->seconds_setup);
    if (!t->loss || !(r->loss0 > 0)) return;
    printf("initialised    L/L(0) %.6f\n", t->loss[0] / r->loss0);
    for (int i = 0; i < r->rounds; i++)
        printf("  round %-3d    continuous %.3f s, discrete %.3f s, L/L(0) %.6f\n", i + 1, t->seconds_continuous[i],
               t->seconds_discrete[i], t->loss[i + 1] / r->loss0);
}

static cJSON *trace_json(const crvq_quant_result *r) {
    const crvq_vq_trace *t = &r->trace;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "prepare_s", t->seconds_prepare);
    cJSON_AddNumberToObject(j, "importance_s", t->seconds_importance);
    cJSON_AddNumberToObject(j, "kmeans_s", t->seconds_kmeans);
    cJSON_AddNumberToObject(j, "setup_s", t->seconds_setup);
    cJSON *loss = cJSON_AddArrayToObject(j, "rel_loss"), *cs = cJSON_AddArrayToObject(j, "continuous_s"),
          *ds = cJSON_AddArrayToObject(j, "discrete_s");
    for (int i = 0; t->loss && i <= r->rounds; i++) {
        cJSON_AddItemToArray(loss, cJSON_CreateNumber(r->loss0 > 0 ? t->loss[i] / r->loss0 : NAN));
        if (i == r->rounds) break;
        cJSON_AddItemToArray(cs, cJSON_CreateNumber(t->seconds_continuous[i]));
        cJSON_AddItemToArray(ds, cJSON_CreateNumber(t->seconds_discrete[i]));
    }
    return j;
}

typedef struct opts {
    cli_common c; // --seed, --threads, --json, --device
    const char *synthetic, *w_path, *h_path, *save_w, *save_h, *save_rec;
    int m_out, n_in; // of --synthetic
    cli_quant_flags qf;
    crvq_quant_params p; // validate: what the flags mean
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    cli_quant_flags_init(&o->qf);
    cli_flag own[6 + CLI_QUANT_N_FLAGS] = {
        CLI_FLAG_STRING(NULL, "--synthetic", &o->synthetic),
        CLI_FLAG_STRING(NULL, "--weight", &o->w_path),
        CLI_FLAG_STRING(NULL, "--hessian", &o->h_path),
        CLI_FLAG_STRING(NULL, "--save-weight", &o->save_w),
        CLI_FLAG_STRING(NULL, "--save-hessian", &o->save_h),
        CLI_FLAG_STRING(NULL, "--save-reconstruction", &o->save_rec),
    };
    int n = 6 + cli_quant_flag_rows(&o->qf, own + 6);
    return cli_parse(cmd, argc, argv, CLI_F_SEED | CLI_F_THREADS | CLI_F_JSON | CLI_F_DEVICE, &o->c, own, n, usage);
}

static int validate(void *vo) {
    opts *o = vo;
    if (!o->qf.have_method) return usage_error("--method is required", NULL);
    if (!o->synthetic == !o->w_path)
        return usage_error("give either --synthetic OUTxIN or --weight W.npy --hessian H.npy", NULL);
    if (!o->w_path != !o->h_path) return usage_error("--weight and --hessian go together", NULL);
    if (o->synthetic && !parse_shape(o->synthetic, &o->m_out, &o->n_in))
        return usage_error("--synthetic expects OUTxIN with positive integers, e.g. 4096x11008, got", o->synthetic);
    crvq_quant_params *p = &o->p;
    int rc = cli_quant_params(cmd, &o->qf, o->c.seed, p);
    if (rc) return rc;
    if (o->c.device != CRVQ_DEVICE_CPU && cli_quant_is_scalar(p->method))
        return usage_error("--device", "applies to vq and crvq only");
    p->device = o->c.device;
    return 0;
}

// W (m_out, n_in) and H: the synthetic layer or the .npy files; *gen_seconds: generating it.
static int load_layer(const opts *o, float **W, double **H, int *m_out, int *n_in, double *gen_seconds) {
    if (!o->synthetic) return load_npy(o->w_path, o->h_path, W, H, m_out, n_in);
    *m_out = o->m_out;
    *n_in = o->n_in;
    size_t P = (size_t)o->m_out * o->n_in, N = (size_t)o->n_in * o->n_in;
    *W = malloc(P * sizeof **W);
    *H = malloc(N * sizeof **H);
    if (!*W || !*H) return cli_error(cmd, "out of memory for the synthetic layer");
    double t0 = cli_seconds();
    if (crvq_synthetic_layer(o->m_out, o->n_in, o->c.seed, *W, *H) != CRVQ_OK) return cli_error(cmd, NULL);
    *gen_seconds = cli_seconds() - t0;
    return 0;
}

// What the run measured, besides the result itself.
typedef struct timing {
    double gen_seconds; // generating a synthetic layer
    double t_start, t_load, wall;
} timing;

static void print_text(const opts *o, const crvq_quant_result *res, int m_out, int n_in, const timing *t) {
    const crvq_quant_params *p = &o->p;
    // L(0) = 0 only when W is invisible to H; the ratio is then undefined.
    double rel = res->loss0 > 0 ? res->loss / res->loss0 : NAN;
    char desc[512];
    cli_quant_describe(p, desc, sizeof desc);
    if (o->synthetic)
        printf("layer          synthetic %dx%d, seed %llu (generated in %.2f s)\n", m_out, n_in,
               (unsigned long long)o->c.seed, t->gen_seconds);
    else
        printf("layer          %s (%dx%d), Hessian %s\n", o->w_path, m_out, n_in, o->h_path);
    printf("method         %s (%s)\n", crvq_method_name(p->method), desc);
    printf("bits/weight    %.4f\n", res->bits);
    printf("relative loss  %.6g   (L = %.6g, L(0) = %.6g)\n", rel, res->loss, res->loss0);
    printf("seconds        %.3f\n", res->seconds);
    printf("wall seconds   %.3f (inputs %.3f, checks %.3f, method %.3f, loss evaluation %.3f)\n", t->wall,
           t->t_load - t->t_start, res->seconds_checks, res->seconds, res->seconds_loss);
    if (!cli_quant_is_scalar(p->method)) {
        printf("rounds         %d\n", res->rounds);
        print_trace(res, o->c.device);
    }
    printf("threads        %d\n", crvq_get_threads());
    if (res->damp_added > 0)
        printf("note           H was not positive semi-definite: added %g x mean diag(H) to its diagonal\n",
               res->damp_added);
}

static void print_json(const opts *o, const crvq_quant_result *res, int m_out, int n_in, const timing *t) {
    const crvq_quant_params *p = &o->p;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "method", crvq_method_name(p->method));
    cJSON_AddStringToObject(j, "source", o->synthetic ? "synthetic" : "npy");
    if (o->synthetic) cJSON_AddNumberToObject(j, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(j, "m_out", m_out);
    cJSON_AddNumberToObject(j, "n_in", n_in);
    cJSON_AddNumberToObject(j, "bits", res->bits);
    cJSON_AddNumberToObject(j, "rel_loss", res->loss0 > 0 ? res->loss / res->loss0 : NAN); // NaN prints as null
    cJSON_AddNumberToObject(j, "loss", res->loss);
    cJSON_AddNumberToObject(j, "loss0", res->loss0);
    cJSON_AddNumberToObject(j, "seconds", res->seconds);
    cJSON_AddNumberToObject(j, "wall_seconds", t->wall);
    cJSON_AddNumberToObject(j, "inputs_seconds", t->t_load - t->t_start);
    cJSON_AddNumberToObject(j, "checks_seconds", res->seconds_checks);
    cJSON_AddNumberToObject(j, "loss_seconds", res->seconds_loss);
    cJSON_AddNumberToObject(j, "rounds", res->rounds);
    cJSON_AddNumberToObject(j, "threads", crvq_get_threads());
    cJSON_AddNumberToObject(j, "damp_added", res->damp_added);
    cJSON_AddItemToObject(j, "params", cli_quant_params_json(p));
    if (!cli_quant_is_scalar(p->method)) {
        cJSON_AddStringToObject(j, "device", crvq_device_name(o->c.device));
        cJSON_AddNumberToObject(j, "cg_iters", p->cg_iters);
        cJSON_AddItemToObject(j, "trace", trace_json(res));
    }
    cli_print_json(j);
}

// Load or make the layer, save what was asked for, quantize it, report.
static int quantize(const opts *o, timing *t) {
    float *W = NULL;
    double *H = NULL;
    crvq_quant_result res = {0};
    int m_out = 0, n_in = 0, rc = 1;
    if (load_layer(o, &W, &H, &m_out, &n_in, &t->gen_seconds)) goto done;
    if ((o->save_w && crvq_npy_write(o->save_w, CRVQ_F32, W, m_out, n_in) != CRVQ_OK) ||
        (o->save_h && crvq_npy_write(o->save_h, CRVQ_F64, H, n_in, n_in) != CRVQ_OK)) {
        cli_error(cmd, NULL);
        goto done;
    }
    t->t_load = cli_seconds();
    if (crvq_quantize_matrix(W, m_out, n_in, H, &o->p, &res) != CRVQ_OK ||
        (o->save_rec && crvq_npy_write(o->save_rec, CRVQ_F32, res.w_hat, m_out, n_in) != CRVQ_OK)) {
        cli_error(cmd, NULL);
        goto done;
    }
    t->wall = cli_seconds() - t->t_start;
    print_text(o, &res, m_out, n_in, t);
    if (o->c.json) print_json(o, &res, m_out, n_in, t);
    rc = 0;
done:
    crvq_quant_result_free(&res);
    free(W);
    free(H);
    return rc;
}

static int run(const void *vo) {
    const opts *o = vo;
    timing t = {.t_start = cli_seconds()};
    if (cli_device_ready(cmd, o->c.device, 32)) return 1;
    if (o->c.threads) crvq_set_threads(o->c.threads);
    const cli_file files[] = {{"--weight", o->w_path, CLI_INPUT, NULL},
                              {"--hessian", o->h_path, CLI_INPUT, NULL},
                              {"--save-weight", o->save_w, CLI_OUTPUT, NULL},
                              {"--save-hessian", o->save_h, CLI_OUTPUT, NULL},
                              {"--save-reconstruction", o->save_rec, CLI_OUTPUT, NULL}};
    if (cli_files(cmd, files, sizeof files / sizeof files[0])) return 1;
    return quantize(o, &t);
}

const cli_command cli_quantize_matrix = {"quantize-matrix", "quantize one layer (synthetic or .npy) and report bits, loss, time",
                            sizeof(opts), parse, validate, run};
