// cmd_quantize.c — `crvq quantize`: a checkpoint in, one compressed GGUF out.
#include "cli/cli.h"
#include "cli/e2e_flags.h"
#include "cli/quant_flags.h"
#include "util/fileguard.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Distillation's settings in quantize: finetune's defaults, but off unless
// --e2e-epochs asks for it (docs/finetune.md, "As the last stage of crvq quantize").
static void quantize_e2e_default(crvq_e2e_params *p) {
    crvq_e2e_params_default(p);
    p->epochs = 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq quantize -m MODEL --calib TEXT -o OUT.gguf [--method crvq|vq|gptq|rtn] [options]\n\n"
            "Quantize every linear layer of MODEL (q, k, v, o, gate, up, down of each block) block\n"
            "by block against proxy Hessians from calibration text, and write one self-contained\n"
            "GGUF file (docs/format.md) that crvq perplexity/generate/bench/info run directly.\n"
            "Norms stay 32-bit; the token embedding and the output head stay 16-bit unless\n"
            "--embeddings / --head give them a scalar format.\n\n"
            "  -m, --model MODEL      HF directory, GGUF file or llama2.c checkpoint\n"
            "  --tokenizer FILE       tokenizer to use instead of the model's own\n"
            "  --calib TEXT           calibration text (never an evaluation file)\n"
            "  -o, --output OUT.gguf  the compressed model (written atomically; never the input)\n"
            "  --nsamples N           calibration windows (default 128)\n"
            "  --nval N               validation windows for fine-tuning (default 16)\n"
            "  --seqlen N             tokens per window (default 512, at most the model's context)\n"
            "  --seed S               seed of sampling and quantization (default 0)\n"
            "  --no-finetune          skip block fine-tuning (on by default for vq and crvq)\n"
            "  --ft-lr F              fine-tuning: Adam learning rate (default 3e-5)\n"
            "  --ft-epochs N          fine-tuning: at most N epochs (default 10)\n"
            "  --ft-patience N        fine-tuning: stop after N epochs without improvement (default 3)\n"
            "  --ft-batch N           fine-tuning: sequences per mini-batch (default 4)\n");
    fprintf(f, "End-to-end distillation as the last stage (vq, crvq; docs/finetune.md): the input model,\n"
               "loaded again, is the teacher on the same calibration windows, as crvq finetune would run:\n");
    crvq_e2e_params def;
    quantize_e2e_default(&def);
    cli_e2e_usage(f, 1, &def);
    fprintf(f,
            "  --checkpoint FILE      per-block checkpoint (default OUT.gguf.ckpt; removed on success;\n"
            "                         an existing FILE must be a crvq checkpoint)\n"
            "  --resume               continue from the checkpoint of an interrupted run\n"
            "  --device cpu|cuda      where vq and crvq quantize each layer, and distillation runs\n"
            "                         (default cpu; docs/cuda.md)\n"
            "  --head FMT             output head as FMT: q8, q4 (any qN, N in 2..8; group 128, or qNgG\n"
            "                         for group G dividing dim), or f16 (the default: unquantized)\n"
            "  --head-method M        gptq (default: against the head's own Hessian, from the\n"
            "                         final-norm outputs of the calibration windows) or rtn\n"
            "  --embeddings FMT       token embedding as FMT (rtn; each token's row dequantized when\n"
            "                         read). A tied head: --head unties it (its own tensor beside the\n"
            "                         embedding; a warning says so), --embeddings alone quantizes both\n"
            "  --target-bpw B         vq, crvq: choose each layer's setting (crvq: lambda from 0..0.25,\n"
            "                         vq: M from 1..3) for the least summed layer loss with at most B\n"
            "                         bits per linear weight in all (each layer is quantized at every\n"
            "                         setting: up to 6x the layers' time; docs/quantization.md)\n"
            "  --dry-run              print the plan and the exact bits per weight, then stop\n"
            "  --quiet                no progress output\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n\n"
            "Method defaults: crvq (d 8, M 4, e 8, lambda 0.02); vq has M 1; rtn/gptq 2 bits, group 128.\n\n");
    cli_quant_usage(f);
}

static const char *cmd = "quantize";

// ----------------------------------------------------------- progress ---

typedef struct progress_ctx {
    int quiet, tty;
    double t0;
} progress_ctx;

static void fmt_time(char *buf, size_t cap, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void on_progress(void *vctx, const crvq_progress *p) {
    progress_ctx *ctx = vctx;
    if (ctx->quiet) return;
    double el = cli_seconds() - ctx->t0;
    double eta = p->done_fraction > 0.01 ? el * (1 - p->done_fraction) / p->done_fraction : -1;
    char e1[16], e2[16], what[96];
    fmt_time(e1, sizeof e1, el);
    fmt_time(e2, sizeof e2, eta);
    int done_layer = (p->stage == CRVQ_STAGE_QUANTIZE && p->bits > 0) || (p->stage == CRVQ_STAGE_FINETUNE && p->rel_loss > 0);
    switch (p->stage) {
    case CRVQ_STAGE_HESSIAN: snprintf(what, sizeof what, "calibration pass"); break;
    case CRVQ_STAGE_QUANTIZE:
        if (done_layer)
            snprintf(what, sizeof what, "%-11s rel loss %.4f, %.3f bits", crvq_proj_name(p->layer), p->rel_loss, p->bits);
        else
            snprintf(what, sizeof what, "%-11s quantizing", crvq_proj_name(p->layer));
        break;
    case CRVQ_STAGE_FINETUNE:
        if (p->rel_loss > 0)
            snprintf(what, sizeof what, "fine-tuned: validation MSE x %.3f", p->rel_loss);
        else
            snprintf(what, sizeof what, "fine-tuning");
        break;
    case CRVQ_STAGE_PROPAGATE: snprintf(what, sizeof what, "propagating"); break;
    case CRVQ_STAGE_BLOCK_DONE: snprintf(what, sizeof what, p->resumed ? "done (from checkpoint)" : "done"); break;
    }
    if (ctx->tty) {
        // one live line; finished layers and blocks stay on screen
        int keep = done_layer || p->stage == CRVQ_STAGE_BLOCK_DONE;
        fprintf(stderr, "\r\033[K[%3.0f%%] block %d/%d  %s  (elapsed %s, ETA %s)%s", 100 * p->done_fraction,
                p->block + 1, p->n_blocks, what, e1, e2, keep ? "\n" : "");
    } else if (done_layer || p->stage == CRVQ_STAGE_BLOCK_DONE) {
        fprintf(stderr, "[%3.0f%%] block %d/%d  %s  (elapsed %s, ETA %s)\n", 100 * p->done_fraction, p->block + 1,
                p->n_blocks, what, e1, e2);
    }
    fflush(stderr);
}

// --------------------------------------------------------------- plan ---

// --target-bpw B: B must be within what the grid reaches (crvq_target_bpw_check);
// the plan is then at most B bits.
static int plan_target(const crvq_model *m, const crvq_pipeline_opts *po, int print, double *linear_bits) {
    double lo, hi;
    if (crvq_target_bpw_check(m, &po->qp, po->target_bpw, &lo, &hi)) return cli_error(cmd, NULL);
    if (print)
        printf("target: at most %.4f bits per linear weight, each layer's setting chosen per block "
               "(this model: %.4f to %.4f)\n", po->target_bpw, lo, hi);
    *linear_bits = po->target_bpw;
    return 0;
}

// Every layer must fit the method's shape rules before any time is spent.
static int plan(const crvq_model *m, const crvq_quant_params *qp, int print, double *linear_bits) {
    const crvq_config *c = &m->cfg;
    int scalar = cli_quant_is_scalar(qp->method);
    int div = scalar ? qp->group_size : qp->d;
    double bits = 0, params = 0;
    if (print) printf("%-12s %12s %10s\n", "layer", "shape", "bits/w");
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        int n_out, n_in;
        crvq_proj_shape(c, j, &n_out, &n_in);
        if (n_in % div) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s has %d inputs, not a multiple of the %s %d", crvq_proj_name(j), n_in,
                     scalar ? "group size" : "vector dimension d", div);
            return cli_error(cmd, msg);
        }
        double b = crvq_planned_bits(qp, n_out, n_in);
        if (print) printf("%-12s %5d x %-5d %10.4f\n", crvq_proj_name(j), n_out, n_in, b);
        bits += b * n_out * n_in;
        params += (double)n_out * n_in;
    }
    *linear_bits = bits / params;
    if (print) printf("all %d blocks: %.4f bits per weight over the linear layers\n", c->n_layers, *linear_bits);
    return 0;
}

// Bits per weight of the head or embedding (vocab_size, dim) in format f.
static double fmt_bits(const crvq_config *c, const crvq_tensor_fmt *f) {
    crvq_quant_params p;
    crvq_tensor_fmt_params(f, 0, &p);
    return crvq_planned_bits(&p, c->vocab_size, c->dim);
}

// "q4g32 gptq": a --head / --embeddings setting.
static void describe_fmt(const crvq_tensor_fmt *f, char *buf, size_t cap) {
    snprintf(buf, cap, "q%dg%d %s", f->bits, f->group_size, crvq_method_name(f->method));
}

// The head and embedding rows of the plan, each only when its flag is given
// (a plan without them prints as before). Their shapes are checked first.
static int plan_head(const crvq_model *m, const crvq_pipeline_opts *po, int print) {
    if (!po->head.bits && !po->embed.bits) return 0;
    if (crvq_pipeline_head_check(m, po)) return cli_error(cmd, NULL);
    const crvq_config *c = &m->cfg;
    const crvq_tensor_fmt *f[2] = {&po->head, &po->embed};
    const char *name[2] = {"output", "token_embd"};
    for (int i = 0; i < 2 && print; i++) {
        if (!f[i]->bits) continue;
        char set[48];
        describe_fmt(f[i], set, sizeof set);
        printf("%-12s %5d x %-5d %10.4f  %s\n", name[i], c->vocab_size, c->dim,
               fmt_bits(c, f[i]), set);
    }
    return 0;
}

// The same as JSON: "head" / "embeddings" {format, method, bpw}; bpw = the
// stored tensor's (NULL: the planned one).
static void head_json(cJSON *j, const crvq_model *m, const crvq_pipeline_opts *po, const crvq_model_bpw *b) {
    const crvq_config *c = &m->cfg;
    const crvq_tensor_fmt *f[2] = {&po->head, &po->embed};
    const char *key[2] = {"head", "embeddings"};
    for (int i = 0; i < 2; i++) {
        if (!f[i]->bits) continue;
        cJSON *o = cJSON_AddObjectToObject(j, key[i]);
        char fmt[32];
        snprintf(fmt, sizeof fmt, "q%dg%d", f[i]->bits, f[i]->group_size);
        cJSON_AddStringToObject(o, "format", fmt);
        cJSON_AddStringToObject(o, "method", crvq_method_name(f[i]->method));
        double planned = fmt_bits(c, f[i]);
        cJSON_AddNumberToObject(o, "bpw", !b ? planned : i == 0 ? b->head : b->embed);
    }
}

// A tied head (output head = token embedding) with --head and/or
// --embeddings: say on stderr what the file will hold, since neither flag
// alone reads as "both" or "two copies" (a warning when the file gets a
// second vocab x dim matrix, a note when the head follows the embedding).
static void tied_head_notice(const crvq_model *m, const crvq_pipeline_opts *po) {
    const crvq_config *c = &m->cfg;
    if (!c->tied_embeddings || (!po->head.bits && !po->embed.bits)) return;
    char h[48], e[48];
    describe_fmt(&po->head, h, sizeof h);
    describe_fmt(&po->embed, e, sizeof e);
    if (!po->head.bits) {
        fprintf(stderr, "crvq %s: note: the output head is tied to the token embedding: --embeddings %s "
                        "quantizes both (the head reads the embedding's %s codes; one matrix in the file)\n",
                cmd, e, e);
        return;
    }
    double mb = fmt_bits(c, &po->head) *
                c->vocab_size * c->dim / 8e6;
    fprintf(stderr, "crvq %s: warning: the output head is tied to the token embedding; --head %s unties it: "
                    "the file stores the head as its own %s tensor (%.2f MB) beside the embedding (%s), the "
                    "same matrix twice. To quantize the one shared matrix instead, give --embeddings FMT "
                    "without --head\n",
            cmd, h, h, mb, po->embed.bits ? e : "16-bit, as without --embeddings");
}

// JSON of the same: the input's head is tied, and whether the file unties it.
static void tied_json(cJSON *j, int tied, const crvq_pipeline_opts *po) {
    cJSON_AddBoolToObject(j, "tied_embeddings", tied);
    cJSON_AddBoolToObject(j, "head_untied", tied && po->head.bits);
}

static long long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

// --head / --embeddings FMT (crvq_tensor_fmt_parse).
static int parse_fmt(const char *name, const char *flag, const char *v, void *dst) {
    if (crvq_tensor_fmt_parse(v, dst) == 0) return 0;
    char msg[96];
    snprintf(msg, sizeof msg, "%s takes q8, q4 (qN with N in 2..8, or qNgG), or f16, got", flag);
    return cli_usage_error(name, msg, v);
}

static int parse_head_method(const char *name, const char *flag, const char *v, void *dst) {
    if (strcmp(v, "gptq") == 0) *(crvq_method *)dst = CRVQ_METHOD_GPTQ;
    else if (strcmp(v, "rtn") == 0) *(crvq_method *)dst = CRVQ_METHOD_RTN;
    else return cli_usage_error(name, "--head-method must be gptq or rtn, got", v);
    return 0;
}

typedef struct opts {
    cli_common c; // -m, --tokenizer, -o, --checkpoint, --resume, --threads, --json, --quiet, --seed, windows, --device
    const char *calib;
    int dry_run, no_finetune;
    double target_bpw; // --target-bpw; 0: none
    double ft_lr; // < 0: the default (likewise the ints)
    int ft_epochs, ft_patience, ft_batch;
    cli_quant_flags qf;
    crvq_tensor_fmt head, embed; // --head, --embeddings, --head-method
    crvq_e2e_params e2e;   // --e2e-*: epochs 0 = no distillation stage
    crvq_pipeline_opts po; // validate: what the flags mean
    char ckpt_buf[4096];   // the default checkpoint path, OUT.gguf.ckpt
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    o->ft_lr = -1;
    o->ft_epochs = o->ft_patience = o->ft_batch = -1;
    cli_quant_flags_init(&o->qf);
    quantize_e2e_default(&o->e2e);
    o->qf.method = CRVQ_METHOD_CRVQ;
    o->head.method = CRVQ_METHOD_GPTQ;
    o->embed.method = CRVQ_METHOD_RTN;
    cli_flag own[11 + CLI_QUANT_N_FLAGS + CLI_E2E_N_FLAGS] = {
        CLI_FLAG_STRING(NULL, "--calib", &o->calib),
        CLI_FLAG_SET(NULL, "--no-finetune", &o->no_finetune),
        CLI_FLAG_DOUBLE(NULL, "--ft-lr", &o->ft_lr, 0, 1),
        CLI_FLAG_INT(NULL, "--ft-epochs", &o->ft_epochs, 0, 100000),
        CLI_FLAG_INT(NULL, "--ft-patience", &o->ft_patience, 1, 100000),
        CLI_FLAG_INT(NULL, "--ft-batch", &o->ft_batch, 1, 1 << 20),
        CLI_FLAG_SET(NULL, "--dry-run", &o->dry_run),
        CLI_FLAG_CUSTOM(NULL, "--head", &o->head, parse_fmt),
        CLI_FLAG_CUSTOM(NULL, "--head-method", &o->head.method, parse_head_method),
        CLI_FLAG_CUSTOM(NULL, "--embeddings", &o->embed, parse_fmt),
        CLI_FLAG_DOUBLE(NULL, "--target-bpw", &o->target_bpw, 0.01, 32),
    };
    int n = 11 + cli_quant_flag_rows(&o->qf, own + 11);
    n += cli_e2e_flag_rows(&o->e2e, 1, own + n);
    return cli_parse(cmd, argc, argv,
                     CLI_F_MODEL | CLI_F_TOKENIZER | CLI_F_OUTPUT | CLI_F_CHECKPOINT | CLI_F_RESUME | CLI_F_THREADS |
                         CLI_F_JSON | CLI_F_QUIET | CLI_F_SEED | CLI_F_WINDOWS | CLI_F_DEVICE,
                     &o->c, own, n, usage);
}

// The distillation stage: vector methods only, and a dense head and embedding
// (distillation tunes through them; --head / --embeddings would quantize them
// first). No checkpoint of its own: the pipeline's, kept until the file is
// written, is what --resume continues from (docs/finetune.md).
static int validate_e2e(opts *o) {
    crvq_e2e_params *p = &o->e2e, d;
    quantize_e2e_default(&d);
    if (!p->epochs) {
        // an --e2e-* setting without the stage would be silently ignored
        int set = p->lr != d.lr || p->min_lr != d.min_lr || p->warmup != d.warmup || p->batch != d.batch ||
                  p->accum != d.accum || p->train_embeddings != d.train_embeddings;
        return set ? cli_usage_error(cmd, "the --e2e-* settings need --e2e-epochs N (the stage is off)", NULL) : 0;
    }
    if (cli_quant_is_scalar(o->po.qp.method)) return cli_usage_error(cmd, "--e2e-epochs", "applies to vq and crvq only");
    if (o->head.bits || o->embed.bits)
        return cli_usage_error(cmd, "--e2e-epochs", "needs the 16-bit head and embedding (not with --head / --embeddings)");
    cli_e2e_settle(p);
    p->seed = o->c.seed;
    p->device = o->c.device;
    p->checkpoint = NULL;
    p->resume = 0;
    return 0;
}

// --target-bpw chooses crvq's lambda or vq's M per layer: for the vector
// methods only, and not beside the flag it replaces.
static int target_flags(const opts *o) {
    if (!(o->target_bpw > 0)) return 0;
    if (cli_quant_is_scalar(o->qf.method))
        return cli_usage_error(cmd, "--target-bpw applies to vq and crvq, not", crvq_method_name(o->qf.method));
    if (o->qf.method == CRVQ_METHOD_CRVQ && !isnan(o->qf.lambda))
        return cli_usage_error(cmd, "--target-bpw chooses lambda per layer: drop", "--lambda");
    if (o->qf.method == CRVQ_METHOD_VQ && (o->qf.M || o->qf.n_e > 1))
        return cli_usage_error(cmd, "--target-bpw chooses M per layer: drop", "-M (and -e lists)");
    return 0;
}

// The settings the flags make, and the files (a dry run writes nothing).
static int validate(void *vo) {
    opts *o = vo;
    const cli_common *c = &o->c;
    if (!c->model) return cli_error(cmd, "no model given (-m MODEL)");
    if (!o->dry_run && (!o->calib || !c->output)) return cli_error(cmd, "--calib TEXT and -o OUT.gguf are required");
    crvq_pipeline_opts *po = &o->po;
    crvq_pipeline_opts_default(po, o->qf.method);
    int rc = cli_quant_params(cmd, &o->qf, c->seed, &po->qp);
    if (rc) return rc;
    if (c->device != CRVQ_DEVICE_CPU && cli_quant_is_scalar(po->qp.method))
        return cli_usage_error(cmd, "--device", "applies to vq and crvq only");
    po->qp.device = c->device;
    if ((rc = validate_e2e(o))) return rc;
    if ((rc = target_flags(o))) return rc;
    po->target_bpw = o->target_bpw;
    if (c->threads) crvq_set_threads(c->threads);
    const char *ckpt = c->checkpoint;
    if (!ckpt && c->output) {
        snprintf(o->ckpt_buf, sizeof o->ckpt_buf, "%s.ckpt", c->output);
        ckpt = o->ckpt_buf;
    }
    const cli_file files[] = {{"-m", c->model, CLI_MODEL, NULL},
                              {"--tokenizer", c->tokenizer, CLI_INPUT, NULL},
                              {"--calib", o->calib, CLI_INPUT, NULL},
                              {"-o", o->dry_run ? NULL : c->output, CLI_OUTPUT, NULL},
                              {ckpt == o->ckpt_buf ? "checkpoint" : "--checkpoint", o->dry_run ? NULL : ckpt,
                               CLI_CHECKPOINT, crvq_checkpoint_probe}};
    if (cli_files(cmd, files, sizeof files / sizeof files[0])) return 1;
    po->finetune = !cli_quant_is_scalar(po->qp.method) && !o->no_finetune;
    if (o->ft_lr >= 0) po->ft.lr = o->ft_lr;
    if (o->ft_epochs >= 0) po->ft.max_epochs = o->ft_epochs;
    if (o->ft_patience >= 0) po->ft.patience = o->ft_patience;
    if (o->ft_batch >= 0) po->ft.batch_seqs = o->ft_batch;
    po->head = o->head;
    po->embed = o->embed;
    po->checkpoint = ckpt;
    po->resume = c->resume;
    return 0;
}

static void print_dry_run(const opts *o, const crvq_model *m, const char *desc, double planned_bits) {
    const crvq_quant_params *qp = &o->po.qp;
    if (!o->c.json) {
        printf("method %s (%s)\n", crvq_method_name(qp->method), desc);
        printf("calibration: %d + %d windows of %d tokens from %s\n", o->c.nsamples, o->c.nval, o->c.seqlen,
               o->calib ? o->calib : "(none given)");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "method", crvq_method_name(qp->method));
    cJSON_AddNumberToObject(j, "linear_bpw", planned_bits);
    if (o->po.target_bpw > 0) cJSON_AddNumberToObject(j, "target_bpw", o->po.target_bpw);
    cJSON_AddItemToObject(j, "params", cli_quant_params_json(qp));
    head_json(j, m, &o->po, NULL);
    tied_json(j, m->cfg.tied_embeddings, &o->po);
    cli_print_json(j);
}

// --target-bpw: what the allocator chose, one line per block.
static void print_choice(const crvq_model *m) {
    printf("settings chosen per block (M/n_crit of q k v o gate up down; crvq info -m OUT lists each layer):\n");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        printf("  blk.%d", l);
        for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
            crvq_linear_desc d;
            crvq_linear_describe(crvq_layer_proj(&m->layers[l], j), &d);
            printf("  %d/%d", d.M, d.n_crit);
        }
        printf("\n");
    }
}

// tied_in: the input's head was tied (the pipeline unties a head it quantizes).
static void print_report(const opts *o, const crvq_model *m, const crvq_pipeline_report *rep,
                         const crvq_e2e_report *erep, int tied_in) {
    const char *out = o->c.output;
    long long bytes = file_size(out);
    double total_bpw = bytes > 0 ? 8.0 * (double)bytes / (double)crvq_model_n_params(m) : 0;
    int64_t rss = cli_peak_rss_bytes();
    crvq_model_bpw b = crvq_model_bits(m, CRVQ_BITS_AS_SAVED);
    printf("wrote %s: %.2f MB, %.4f bits per linear weight, %.4f bits per parameter overall (file size)\n", out,
           bytes / 1e6, rep->linear_bits, total_bpw);
    printf("bits per weight: linear %.4f, without embedding and head %.4f, all tensors %.4f\n", b.linear,
           b.nonembed, b.total);
    if (o->po.target_bpw > 0) {
        printf("target: at most %g bits per linear weight; reached %.6f\n", o->po.target_bpw, b.linear);
        print_choice(m);
    }
    char set[48];
    if (o->po.head.bits) {
        describe_fmt(&o->po.head, set, sizeof set);
        printf("output head %s: %.4f bits per weight, rel loss %.4f\n", set, b.head, rep->head_rel_loss);
    }
    if (o->po.embed.bits) {
        describe_fmt(&o->po.embed, set, sizeof set);
        printf("token embedding %s: %.4f bits per weight\n", set, b.embed);
    }
    printf("quantized in %.1f s (%d blocks from the checkpoint), mean layer rel loss %.4f, peak RSS %.0f MB\n",
           rep->seconds, rep->blocks_resumed, rep->mean_rel_loss, rss / 1e6);
    if (o->po.finetune)
        printf("block fine-tuning: %.1f s, validation MSE x %.3f on average\n", rep->ft_seconds, rep->ft_mse_ratio);
    printf("stages: forward + Hessians %.1f s, layers %.1f s, fine-tuning %.1f s, propagation %.1f s (%s)\n",
           rep->forward_seconds, rep->layers_seconds, rep->ft_seconds, rep->propagate_seconds,
           crvq_device_name(o->po.qp.device));
    if (erep->epochs_run)
        printf("distillation: %.1f s, validation KL %.5f -> %.5f, perplexity %.3f -> %.3f (best epoch %d of %d)\n",
               erep->seconds, erep->val_kl_before, erep->val_kl_after, erep->val_ppl_before, erep->val_ppl_after,
               erep->best_epoch, erep->epochs_run);
    if (!o->c.json) return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "output", out);
    cJSON_AddStringToObject(j, "method", crvq_method_name(o->po.qp.method));
    cJSON_AddItemToObject(j, "params", cli_quant_params_json(&o->po.qp));
    cJSON_AddNumberToObject(j, "linear_bpw", rep->linear_bits);
    if (o->po.target_bpw > 0) {
        cJSON_AddNumberToObject(j, "target_bpw", o->po.target_bpw);
        cJSON_AddItemToObject(j, "layers", cli_layers_json(m));
    }
    cJSON_AddNumberToObject(j, "total_bpw", total_bpw);
    cJSON_AddNumberToObject(j, "nonembed_bpw", b.nonembed);
    cJSON_AddNumberToObject(j, "tensor_bpw", b.total);
    head_json(j, m, &o->po, &b);
    tied_json(j, tied_in, &o->po);
    if (o->po.head.bits) cJSON_AddNumberToObject(cJSON_GetObjectItem(j, "head"), "rel_loss", rep->head_rel_loss);
    cJSON_AddNumberToObject(j, "bytes", (double)bytes);
    cJSON_AddNumberToObject(j, "seconds", rep->seconds);
    cJSON_AddNumberToObject(j, "blocks_resumed", rep->blocks_resumed);
    cJSON_AddNumberToObject(j, "mean_rel_loss", rep->mean_rel_loss);
    cJSON_AddNumberToObject(j, "sum_layer_loss", rep->sum_loss);
    cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)rss);
    cJSON_AddBoolToObject(j, "finetuned", o->po.finetune);
    cJSON_AddNumberToObject(j, "ft_seconds", rep->ft_seconds);
    cJSON_AddNumberToObject(j, "ft_mse_ratio", rep->ft_mse_ratio);
    cJSON_AddNumberToObject(j, "forward_seconds", rep->forward_seconds);
    cJSON_AddNumberToObject(j, "layers_seconds", rep->layers_seconds);
    cJSON_AddNumberToObject(j, "propagate_seconds", rep->propagate_seconds);
    if (erep->epochs_run) {
        cJSON *e = cJSON_AddObjectToObject(j, "e2e");
        cJSON_AddNumberToObject(e, "epochs", erep->epochs_run);
        cJSON_AddNumberToObject(e, "seconds", erep->seconds);
        cli_e2e_report_json(e, erep, &o->e2e);
    }
    cJSON_AddNumberToObject(j, "nsamples", o->c.nsamples);
    cJSON_AddNumberToObject(j, "seqlen", o->c.seqlen);
    cli_print_json(j);
}

// The distillation stage: the input loaded again as the teacher (mapped, its
// 16-bit weights used as stored: the same file pages as the student's), distilled
// into m on the calibration windows. rep->epochs_run 0 when there is no such stage.
static int distil(const opts *o, crvq_model *m, const crvq_calib *cal, crvq_e2e_report *rep) {
    memset(rep, 0, sizeof *rep);
    if (!o->e2e.epochs) return 0;
    const cli_common *c = &o->c;
    crvq_e2e_params p = o->e2e;
    cli_e2e_progress pc = {c->quiet, cli_seconds()};
    p.progress = cli_e2e_on_progress;
    p.progress_user = &pc;
    crvq_model *t = cli_load_model(cmd, c->model, c->tokenizer);
    if (!t) return 1;
    if (!c->quiet)
        fprintf(stderr, "crvq %s: distillation: %d training + %d validation windows of %d tokens, %d epoch(s), %s\n",
                cmd, cal->n_train, cal->n_val, cal->seqlen, p.epochs, crvq_device_name(p.device));
    crvq_status st = crvq_e2e_finetune(m, t, cal->tokens, cal->n_train, cal->n_val, cal->seqlen, &p, rep);
    crvq_model_free(t);
    return st == CRVQ_OK ? 0 : cli_error(cmd, NULL);
}

// Quantize m (and distil it), write it, remove the checkpoint that has served.
static int quantize(const opts *o, crvq_model *m, const char *desc, double planned_bits) {
    const char *ckpt = o->po.checkpoint;
    int quiet = o->c.quiet;
    if (o->c.resume && access(ckpt, F_OK) != 0 && !quiet)
        fprintf(stderr, "crvq %s: no checkpoint %s: starting from the first block\n", cmd, ckpt);
    if (!o->c.resume && access(ckpt, F_OK) == 0 && !quiet)
        fprintf(stderr, "crvq %s: note: replacing the old checkpoint %s (use --resume to continue it)\n", cmd, ckpt);
    progress_ctx pc = {quiet, isatty(2), cli_seconds()};
    crvq_pipeline_opts po = o->po;
    po.progress = on_progress;
    po.progress_ctx = &pc;
    if (!quiet)
        fprintf(stderr, "crvq %s: %s (%s), %d layers, %.4f bits per linear weight\n", cmd,
                crvq_method_name(po.qp.method), desc, m->cfg.n_layers * CRVQ_PROJ_COUNT, planned_bits);
    if (!m->tok) return cli_error(cmd, "the model has no tokenizer for the calibration text (give --tokenizer)");
    crvq_calib cal;
    if (crvq_calib_sample(m->tok, o->calib, o->c.nsamples, o->c.nval, o->c.seqlen, po.qp.seed, &cal) != CRVQ_OK)
        return cli_error(cmd, NULL);
    crvq_pipeline_report rep;
    int tied_in = m->cfg.tied_embeddings;
    crvq_e2e_report erep;
    crvq_status st = crvq_quantize_model(m, &cal, &po, &rep);
    int rc = st != CRVQ_OK ? cli_error(cmd, NULL) : distil(o, m, &cal, &erep);
    crvq_calib_free(&cal);
    if (rc) return rc;
    crvq_save_info info = {.params = &po.qp, .calib_file = o->calib, .calib_nsamples = o->c.nsamples,
                                .calib_seqlen = o->c.seqlen, .finetuned = po.finetune,
                                .target_bpw = po.target_bpw};
    if (crvq_model_save(m, &info, o->c.output) != CRVQ_OK) return cli_error(cmd, NULL);
    crvq_guard_remove_checkpoint(ckpt); // the output is complete: the checkpoint has served
    print_report(o, m, &rep, &erep, tied_in);
    return 0;
}

static int run(const void *vo) {
    const opts *o = vo;
    if (!o->dry_run && cli_device_ready(cmd, o->c.device, 32)) return 1;
    crvq_model *m = cli_load_model(cmd, o->c.model, o->c.tokenizer);
    if (!m) return 1;
    double planned_bits = 0;
    int rc = 1;
    int print = o->dry_run && !o->c.json;
    const int target = o->po.target_bpw > 0;
    int planned = plan(m, &o->po.qp, print && !target, &planned_bits);
    if (!planned && target) planned = plan_target(m, &o->po, print, &planned_bits);
    if (!planned && !plan_head(m, &o->po, print)) {
        if (o->c.seqlen > m->cfg.max_seq_len)
            fprintf(stderr, "crvq %s: warning: --seqlen %d is longer than the model's context %d\n", cmd,
                    o->c.seqlen, m->cfg.max_seq_len);
        tied_head_notice(m, &o->po);
        char desc[512];
        cli_quant_describe(&o->po.qp, desc, sizeof desc);
        if (target) {
            size_t len = strlen(desc);
            snprintf(desc + len, sizeof desc - len, "; %s chosen per layer for --target-bpw %g",
                     o->po.qp.method == CRVQ_METHOD_CRVQ ? "lambda" : "M", o->po.target_bpw);
        }
        if (o->dry_run) {
            print_dry_run(o, m, desc, planned_bits);
            rc = 0;
        } else {
            rc = quantize(o, m, desc, planned_bits);
        }
    }
    crvq_model_free(m);
    return rc;
}

const cli_command cli_quantize = {"quantize", "quantize a whole model into one compressed GGUF file",
                            sizeof(opts), parse, validate, run};
