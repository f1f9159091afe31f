// cmd_finetune.c — `crvq finetune`: end-to-end distillation of a quantized
// model from its original (src/train/e2e.h), written as a new compressed GGUF.
#include "cli/cli.h"
#include "container/container.h"
#include "io/gguf.h"
#include "train/e2e.h"
#include "util/fileguard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cmd = "finetune";

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq finetune -m QUANTIZED.gguf --teacher ORIGINAL --data TEXT -o OUT.gguf [options]\n\n"
            "Distil the original model into the quantized one: with every code frozen, tune all\n"
            "codebooks, row scales and RMSNorm weights (and optionally the embeddings) to minimise\n"
            "KL(teacher || student) of the next-token distributions on windows of TEXT.\n\n"
            "  -m, --model FILE       the quantized model (crvq quantize output)\n"
            "  --teacher MODEL        the original model (HF directory, GGUF or llama2.c); same vocabulary\n"
            "  --data TEXT            training text: windows from its first 90%%, validation from the rest\n"
            "  -o, --output OUT.gguf  the tuned model (written atomically; never the input)\n"
            "  --nsamples N           training windows (default 128)\n"
            "  --nval N               validation windows (default 16; 0: validate on the training ones)\n"
            "  --seqlen N             tokens per window (default 512)\n"
            "  --epochs N             passes over the training windows (default 1)\n"
            "  --lr F                 peak Adam learning rate (default 1e-4)\n"
            "  --min-lr F             end of the cosine decay (default 1e-5)\n"
            "  --warmup N             optimizer steps of linear warm-up (default 10)\n"
            "  --batch N              sequences per mini-batch (default 4)\n"
            "  --accum N              mini-batches per optimizer step (default 1)\n"
            "  --train-embeddings     also tune the token embedding / output head (tied: one matrix)\n"
            "  --seed S               window sampling and mini-batch order (default 0)\n"
            "  --checkpoint FILE      written after each epoch (default OUT.gguf.e2e; removed on success;\n"
            "                         an existing FILE must be a crvq distillation checkpoint)\n"
            "  --resume               continue from the checkpoint of an interrupted run\n"
            "  --quiet                no progress output\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n");
}

typedef struct progress_ctx {
    int quiet;
    double t0;
} progress_ctx;

static void on_progress(void *vctx, const crvq_e2e_progress *p) {
    progress_ctx *ctx = vctx;
    if (ctx->quiet) return;
    const double el = cli_seconds() - ctx->t0;
    const double eta = p->step > 0 ? el * (double)(p->steps - p->step) / (double)p->step : -1;
    if (p->epoch_done)
        fprintf(stderr, "epoch %d/%d: validation KL %.5f, ppl %.3f  (elapsed %.0fs)\n", p->epoch, p->epochs,
                p->val_kl, p->val_ppl, el);
    else
        fprintf(stderr, "step %lld/%lld (epoch %d): train KL %.5f, lr %.2e  (elapsed %.0fs, ETA %.0fs)\n",
                (long long)p->step, (long long)p->steps, p->epoch, p->train_kl, p->lr, el, eta);
}

// What the input file records about its quantization, carried over into the
// output (the loader binds the layers but keeps none of the crvq.* keys).
typedef struct quant_record {
    crvq_quant_params qp;
    int has_qp, finetuned, nsamples, seqlen;
    char calib[1024];
} quant_record;

static void str_key(const crvq_gguf *g, const char *key, char *buf, size_t cap) {
    crvq_gguf_str s;
    buf[0] = 0;
    if (crvq_gguf_get_str(g, key, &s) == CRVQ_OK) snprintf(buf, cap, "%.*s", (int)s.len, s.p);
}

static void read_record(const char *path, quant_record *r) {
    memset(r, 0, sizeof *r);
    crvq_gguf *g;
    if (crvq_gguf_open(path, &g) != CRVQ_OK) return;
    char method[32], s[64];
    str_key(g, "crvq.method", method, sizeof method);
    for (int m = CRVQ_METHOD_RTN; m <= CRVQ_METHOD_CRVQ; m++)
        if (strcmp(method, crvq_method_name(m)) == 0) {
            crvq_quant_params_default(&r->qp, m);
            r->has_qp = 1;
        }
    uint32_t u;
    float f;
    int32_t e[CRVQ_MAX_CODEBOOKS];
    if (r->has_qp) {
        crvq_quant_params *q = &r->qp;
        if (crvq_gguf_get_u32(g, "crvq.d", &u) == CRVQ_OK) q->d = (int)u;
        if (crvq_gguf_get_u32(g, "crvq.M", &u) == CRVQ_OK && u <= CRVQ_MAX_CODEBOOKS &&
            crvq_gguf_get_arr_i32(g, "crvq.e", e, u) == CRVQ_OK) {
            q->M = (int)u;
            for (uint32_t k = 0; k < u; k++) q->e[k] = e[k];
        }
        if (crvq_gguf_get_f32(g, "crvq.lambda", &f) == CRVQ_OK) q->lambda = f;
        str_key(g, "crvq.importance", s, sizeof s);
        for (int i = CRVQ_IMPORTANCE_HESSIAN; i <= CRVQ_IMPORTANCE_RANDOM; i++)
            if (strcmp(s, crvq_importance_name(i)) == 0) q->importance = i;
        str_key(g, "crvq.channel_order", s, sizeof s);
        for (int i = CRVQ_ORDER_SORT; i <= CRVQ_ORDER_PARTITION; i++)
            if (strcmp(s, crvq_channel_order_name(i)) == 0) q->order = i;
        if (crvq_gguf_get_u32(g, "crvq.beam", &u) == CRVQ_OK) q->beam = (int)u;
        if (crvq_gguf_get_f32(g, "crvq.tol", &f) == CRVQ_OK) q->tol = f;
        if (crvq_gguf_get_u32(g, "crvq.max_rounds", &u) == CRVQ_OK) q->max_rounds = (int)u;
        if (crvq_gguf_get_u32(g, "crvq.kmeans_iters", &u) == CRVQ_OK) q->kmeans_iters = (int)u;
        if (crvq_gguf_get_u32(g, "crvq.bits", &u) == CRVQ_OK) q->bits = (int)u;
        if (crvq_gguf_get_u32(g, "crvq.group_size", &u) == CRVQ_OK) q->group_size = (int)u;
        if (crvq_gguf_get_f32(g, "crvq.damp", &f) == CRVQ_OK) q->damp = f;
        crvq_gguf_get_bool(g, "crvq.act_order", &q->act_order);
        crvq_gguf_get_u64(g, "crvq.seed", &q->seed);
    }
    str_key(g, "crvq.calib.file", r->calib, sizeof r->calib);
    if (crvq_gguf_get_u32(g, "crvq.calib.nsamples", &u) == CRVQ_OK) r->nsamples = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.calib.seqlen", &u) == CRVQ_OK) r->seqlen = (int)u;
    crvq_gguf_get_bool(g, "crvq.finetuned", &r->finetuned);
    crvq_gguf_close(g);
}

int cmd_finetune(int argc, char **argv) {
    const char *model = NULL, *teacher_path = NULL, *data = NULL, *out = NULL, *ckpt = NULL;
    int json = 0, threads = 0, quiet = 0, nsamples = 128, nval = 16, seqlen = 512;
    crvq_e2e_params p;
    crvq_e2e_params_default(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) model = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--teacher")) teacher_path = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--data")) data = cli_value(argc, argv, &i);
        else if (cli_is(a, "-o", "--output")) out = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--nsamples")) nsamples = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        else if (cli_is(a, NULL, "--nval")) nval = (int)cli_int(a, cli_value(argc, argv, &i), 0, 1 << 20);
        else if (cli_is(a, NULL, "--seqlen")) seqlen = (int)cli_int(a, cli_value(argc, argv, &i), 2, 1 << 20);
        else if (cli_is(a, NULL, "--epochs")) p.epochs = (int)cli_int(a, cli_value(argc, argv, &i), 0, 100000);
        else if (cli_is(a, NULL, "--lr")) p.lr = cli_double(a, cli_value(argc, argv, &i), 1e-12, 1);
        else if (cli_is(a, NULL, "--min-lr")) p.min_lr = cli_double(a, cli_value(argc, argv, &i), 0, 1);
        else if (cli_is(a, NULL, "--warmup")) p.warmup = (int)cli_int(a, cli_value(argc, argv, &i), 0, 1 << 30);
        else if (cli_is(a, NULL, "--batch")) p.batch = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        else if (cli_is(a, NULL, "--accum")) p.accum = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        else if (cli_is(a, NULL, "--train-embeddings")) p.train_embeddings = 1;
        else if (cli_is(a, NULL, "--seed")) p.seed = (uint64_t)cli_int(a, cli_value(argc, argv, &i), 0, LLONG_MAX);
        else if (cli_is(a, NULL, "--checkpoint")) ckpt = cli_value(argc, argv, &i);
        else if (cli_is(a, NULL, "--resume")) p.resume = 1;
        else if (cli_is(a, NULL, "--quiet")) quiet = 1;
        else if (cli_is(a, NULL, "--threads")) threads = cli_threads(cmd, cli_value(argc, argv, &i));
        else if (cli_is(a, NULL, "--json")) json = 1;
        else return cli_unknown(cmd, a);
    }
    if (!model || !teacher_path || !data || !out)
        return cli_error(cmd, "-m QUANTIZED.gguf, --teacher ORIGINAL, --data TEXT and -o OUT.gguf are required");
    if (p.min_lr > p.lr) p.min_lr = p.lr; // a floor above the peak means a constant rate
    if (threads) crvq_set_threads(threads);
    char ckpt_buf[4096];
    if (!ckpt) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.e2e", out);
        ckpt = ckpt_buf;
    }
    const cli_file files[] = {{"-m", model, CLI_MODEL, NULL},
                              {"--teacher", teacher_path, CLI_MODEL, NULL},
                              {"--data", data, CLI_INPUT, NULL},
                              {"-o", out, CLI_OUTPUT, NULL},
                              {ckpt == ckpt_buf ? "checkpoint" : "--checkpoint", ckpt, CLI_CHECKPOINT,
                               crvq_e2e_checkpoint_probe}};
    if (cli_files(cmd, files, sizeof files / sizeof files[0])) return 1;

    const double t0 = cli_seconds();
    int rc = 1;
    crvq_model *m = cli_load_model(cmd, model, NULL), *t = NULL;
    crvq_calib cal = {0};
    if (!m || !(t = cli_load_model(cmd, teacher_path, NULL))) goto done;
    if (t->cfg.vocab_size != m->cfg.vocab_size) {
        char msg[256];
        snprintf(msg, sizeof msg, "the teacher has %d tokens in its vocabulary, the student %d: not the same model",
                 t->cfg.vocab_size, m->cfg.vocab_size);
        cli_error(cmd, msg);
        goto done;
    }
    if (!m->tok) {
        cli_error(cmd, "the quantized model has no tokenizer");
        goto done;
    }
    if (crvq_calib_sample(m->tok, data, nsamples, nval, seqlen, p.seed, &cal) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    p.checkpoint = ckpt;
    progress_ctx pc = {quiet, cli_seconds()};
    p.progress = on_progress;
    p.progress_user = &pc;
    if (!quiet)
        fprintf(stderr, "crvq %s: %d training + %d validation windows of %d tokens, %d epoch(s)%s\n", cmd, nsamples,
                nval, seqlen, p.epochs, p.resume && access(ckpt, F_OK) == 0 ? ", resuming" : "");
    crvq_e2e_report rep;
    if (crvq_e2e_finetune(m, t, cal.tokens, nsamples, nval, seqlen, &p, &rep) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    quant_record qr;
    read_record(model, &qr);
    crvq_container_info info = {.params = qr.has_qp ? &qr.qp : NULL, .calib_file = qr.calib[0] ? qr.calib : NULL,
                                .calib_nsamples = qr.nsamples, .calib_seqlen = qr.seqlen, .finetuned = qr.finetuned};
    if (crvq_container_write(m, &info, out) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    crvq_guard_remove_checkpoint(ckpt); // the output is complete: the checkpoint has served
    const double secs = cli_seconds() - t0;
    const int64_t rss = cli_peak_rss_bytes();
    printf("wrote %s: %zu parameters tuned, best epoch %d of %d\n", out, rep.n_params, rep.best_epoch, rep.epochs_run);
    printf("validation KL %.5f -> %.5f, perplexity %.3f -> %.3f; %.1f s, peak RSS %.0f MB\n", rep.val_kl_before,
           rep.val_kl_after, rep.val_ppl_before, rep.val_ppl_after, secs, rss / 1e6);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddNumberToObject(j, "val_ppl_before", rep.val_ppl_before);
        cJSON_AddNumberToObject(j, "val_ppl_after", rep.val_ppl_after);
        cJSON_AddNumberToObject(j, "val_kl_before", rep.val_kl_before);
        cJSON_AddNumberToObject(j, "val_kl_after", rep.val_kl_after);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)rss);
        cJSON_AddNumberToObject(j, "epochs_run", rep.epochs_run);
        cJSON_AddNumberToObject(j, "epochs_resumed", rep.epochs_resumed);
        cJSON_AddNumberToObject(j, "best_epoch", rep.best_epoch);
        cJSON_AddNumberToObject(j, "steps", (double)rep.steps);
        cJSON_AddNumberToObject(j, "n_params", (double)rep.n_params);
        cJSON_AddNumberToObject(j, "lr", p.lr);
        cJSON_AddBoolToObject(j, "train_embeddings", p.train_embeddings);
        cli_print_json(j);
    }
    rc = 0;
done:
    crvq_calib_free(&cal);
    crvq_model_free(t);
    crvq_model_free(m);
    return rc;
}
