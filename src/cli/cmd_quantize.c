// cmd_quantize.c — `crvq quantize`: a checkpoint in, one compressed GGUF out.
#include "cli/cli.h"
#include "cli/quant_flags.h"
#include "container/container.h"
#include "model/block_proj.h"
#include "quant/quant_internal.h"
#include "util/fileguard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cmd = "quantize";

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq quantize -m MODEL --calib TEXT -o OUT.gguf [--method crvq|vq|gptq|rtn] [options]\n\n"
            "Quantize every linear layer of MODEL (q, k, v, o, gate, up, down of each block) block\n"
            "by block against proxy Hessians from calibration text, and write one self-contained\n"
            "GGUF file (docs/format.md) that crvq perplexity/generate/bench/info run directly.\n"
            "Embeddings, norms and the output head stay 16/32-bit.\n\n"
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
            "  --ft-batch N           fine-tuning: sequences per mini-batch (default 4)\n"
            "  --checkpoint FILE      per-block checkpoint (default OUT.gguf.ckpt; removed on success;\n"
            "                         an existing FILE must be a crvq checkpoint)\n"
            "  --resume               continue from the checkpoint of an interrupted run\n"
            "  --dry-run              print the plan and the exact bits per weight, then stop\n"
            "  --quiet                no progress output\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n\n"
            "Method defaults: crvq (d 8, M 4, e 8, lambda 0.02); vq has M 1; rtn/gptq 2 bits, group 128.\n\n");
    cli_quant_usage(f);
}

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
            snprintf(what, sizeof what, "%-11s rel loss %.4f, %.3f bits", crvq_proj_table[p->layer].gguf, p->rel_loss, p->bits);
        else
            snprintf(what, sizeof what, "%-11s quantizing", crvq_proj_table[p->layer].gguf);
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
            snprintf(msg, sizeof msg, "%s has %d inputs, not a multiple of the %s %d", crvq_proj_table[j].gguf, n_in,
                     scalar ? "group size" : "vector dimension d", div);
            return cli_error(cmd, msg);
        }
        double b = crvq_planned_bits(qp, n_out, n_in);
        if (print) printf("%-12s %5d x %-5d %10.4f\n", crvq_proj_table[j].gguf, n_out, n_in, b);
        bits += b * n_out * n_in;
        params += (double)n_out * n_in;
    }
    *linear_bits = bits / params;
    if (print) printf("all %d blocks: %.4f bits per weight over the linear layers\n", c->n_layers, *linear_bits);
    return 0;
}

static long long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *calib = NULL, *out = NULL, *ckpt = NULL;
    int json = 0, threads = 0, dry_run = 0, quiet = 0, resume = 0, no_finetune = 0;
    int nsamples = 128, nval = 16, seqlen = 512;
    double ft_lr = -1;
    int ft_epochs = -1, ft_patience = -1, ft_batch = -1;
    uint64_t seed = 0;
    cli_quant_flags qf;
    cli_quant_flags_init(&qf);
    qf.method = CRVQ_METHOD_CRVQ;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) model = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--tokenizer")) tokenizer = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--calib")) calib = cli_value(argc, argv, &i);
        else if (cli_is(a, "-o", "--output")) out = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--nsamples")) nsamples = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        else if (cli_is(a, NULL, "--nval")) nval = (int)cli_int(a, cli_value(argc, argv, &i), 0, 1 << 20);
        else if (cli_is(a, NULL, "--seqlen")) seqlen = (int)cli_int(a, cli_value(argc, argv, &i), 2, 1 << 20);
        else if (cli_is(a, NULL, "--seed")) seed = (uint64_t)cli_int(a, cli_value(argc, argv, &i), 0, LLONG_MAX);
        else if (cli_is(a, NULL, "--no-finetune")) no_finetune = 1;
        else if (cli_is(a, NULL, "--ft-lr")) ft_lr = cli_double(a, cli_value(argc, argv, &i), 0, 1);
        else if (cli_is(a, NULL, "--ft-epochs")) ft_epochs = (int)cli_int(a, cli_value(argc, argv, &i), 0, 100000);
        else if (cli_is(a, NULL, "--ft-patience")) ft_patience = (int)cli_int(a, cli_value(argc, argv, &i), 1, 100000);
        else if (cli_is(a, NULL, "--ft-batch")) ft_batch = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        else if (cli_is(a, NULL, "--checkpoint")) ckpt = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--resume")) resume = 1;
        else if (cli_is(a, NULL, "--dry-run")) dry_run = 1;
        else if (cli_is(a, NULL, "--quiet")) quiet = 1;
        else if (cli_is(a, NULL, "--threads")) threads = cli_threads(cmd, cli_value(argc, argv, &i));
        else if (cli_is(a, NULL, "--json")) json = 1;
        else if (!cli_quant_flag(cmd, &qf, argc, argv, &i)) return cli_unknown(cmd, a);
    }
    if (!model) return cli_error(cmd, "no model given (-m MODEL)");
    if (!dry_run && (!calib || !out)) return cli_error(cmd, "--calib TEXT and -o OUT.gguf are required");
    crvq_pipeline_opts o;
    crvq_pipeline_opts_default(&o, qf.method);
    int rc = cli_quant_params(cmd, &qf, seed, &o.qp);
    if (rc) return rc;
    if (threads) crvq_set_threads(threads);
    char ckpt_buf[4096];
    if (!ckpt && out) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", out);
        ckpt = ckpt_buf;
    }
    // a dry run writes nothing
    const cli_file files[] = {{"-m", model, CLI_MODEL, NULL},
                              {"--tokenizer", tokenizer, CLI_INPUT, NULL},
                              {"--calib", calib, CLI_INPUT, NULL},
                              {"-o", dry_run ? NULL : out, CLI_OUTPUT, NULL},
                              {ckpt == ckpt_buf ? "checkpoint" : "--checkpoint", dry_run ? NULL : ckpt, CLI_CHECKPOINT,
                               crvq_checkpoint_probe}};
    if (cli_files(cmd, files, sizeof files / sizeof files[0])) return 1;

    crvq_model *m = cli_load_model(cmd, model, tokenizer);
    if (!m) return 1;
    double planned_bits = 0;
    rc = 1;
    if (plan(m, &o.qp, dry_run && !json, &planned_bits)) goto done;
    if (seqlen > m->cfg.max_seq_len) {
        fprintf(stderr, "crvq %s: warning: --seqlen %d is longer than the model's context %d\n", cmd, seqlen,
                m->cfg.max_seq_len);
    }
    char desc[512];
    cli_quant_describe(&o.qp, desc, sizeof desc);
    int vector = !cli_quant_is_scalar(o.qp.method);
    o.finetune = vector && !no_finetune;
    if (ft_lr >= 0) o.ft.lr = ft_lr;
    if (ft_epochs >= 0) o.ft.max_epochs = ft_epochs;
    if (ft_patience >= 0) o.ft.patience = ft_patience;
    if (ft_batch >= 0) o.ft.batch_seqs = ft_batch;
    if (dry_run) {
        if (!json) {
            printf("method %s (%s)\n", crvq_method_name(o.qp.method), desc);
            printf("calibration: %d + %d windows of %d tokens from %s\n", nsamples, nval, seqlen, calib ? calib : "(none given)");
        } else {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "method", crvq_method_name(o.qp.method));
            cJSON_AddNumberToObject(j, "linear_bpw", planned_bits);
            cJSON_AddItemToObject(j, "params", cli_quant_params_json(&o.qp));
            cli_print_json(j);
        }
        rc = 0;
        goto done;
    }

    if (resume && access(ckpt, F_OK) != 0 && !quiet)
        fprintf(stderr, "crvq %s: no checkpoint %s: starting from the first block\n", cmd, ckpt);
    if (!resume && access(ckpt, F_OK) == 0 && !quiet)
        fprintf(stderr, "crvq %s: note: replacing the old checkpoint %s (use --resume to continue it)\n", cmd, ckpt);
    progress_ctx pc = {quiet, isatty(2), cli_seconds()};
    o.calib_path = calib;
    o.nsamples = nsamples;
    o.nval = nval;
    o.seqlen = seqlen;
    o.checkpoint = ckpt;
    o.resume = resume;
    o.progress = on_progress;
    o.progress_ctx = &pc;
    if (!quiet)
        fprintf(stderr, "crvq %s: %s (%s), %d layers, %.4f bits per linear weight\n", cmd,
                crvq_method_name(o.qp.method), desc, m->cfg.n_layers * CRVQ_PROJ_COUNT, planned_bits);
    crvq_pipeline_report rep;
    if (crvq_quantize_model(m, &o, &rep) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    crvq_container_info info = {.params = &o.qp, .calib_file = calib, .calib_nsamples = nsamples,
                                .calib_seqlen = seqlen, .finetuned = o.finetune};
    if (crvq_container_write(m, &info, out) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    crvq_guard_remove_checkpoint(ckpt); // the output is complete: the checkpoint has served
    long long bytes = file_size(out);
    double total_bpw = bytes > 0 ? 8.0 * (double)bytes / (double)crvq_model_n_params(m) : 0;
    int64_t rss = cli_peak_rss_bytes();
    printf("wrote %s: %.2f MB, %.4f bits per linear weight, %.4f bits per parameter overall (file size)\n", out,
           bytes / 1e6, rep.linear_bits, total_bpw);
    printf("quantized in %.1f s (%d blocks from the checkpoint), mean layer rel loss %.4f, peak RSS %.0f MB\n",
           rep.seconds, rep.blocks_resumed, rep.mean_rel_loss, rss / 1e6);
    if (o.finetune)
        printf("block fine-tuning: %.1f s, validation MSE x %.3f on average\n", rep.ft_seconds, rep.ft_mse_ratio);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddStringToObject(j, "method", crvq_method_name(o.qp.method));
        cJSON_AddItemToObject(j, "params", cli_quant_params_json(&o.qp));
        cJSON_AddNumberToObject(j, "linear_bpw", rep.linear_bits);
        cJSON_AddNumberToObject(j, "total_bpw", total_bpw);
        cJSON_AddNumberToObject(j, "bytes", (double)bytes);
        cJSON_AddNumberToObject(j, "seconds", rep.seconds);
        cJSON_AddNumberToObject(j, "blocks_resumed", rep.blocks_resumed);
        cJSON_AddNumberToObject(j, "mean_rel_loss", rep.mean_rel_loss);
        cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)rss);
        cJSON_AddBoolToObject(j, "finetuned", o.finetune);
        cJSON_AddNumberToObject(j, "ft_seconds", rep.ft_seconds);
        cJSON_AddNumberToObject(j, "ft_mse_ratio", rep.ft_mse_ratio);
        cJSON_AddNumberToObject(j, "nsamples", nsamples);
        cJSON_AddNumberToObject(j, "seqlen", seqlen);
        cli_print_json(j);
    }
    rc = 0;
done:
    crvq_model_free(m);
    return rc;
}
