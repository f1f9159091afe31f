// cmd_finetune.c — `crvq finetune`: end-to-end distillation of a quantized
// model from its original (src/train/e2e.h), written as a new compressed GGUF.
#include "cli/cli.h"
#include "cli/e2e_flags.h"
#include "util/fileguard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
            "  --seqlen N             tokens per window (default 512)\n");
    crvq_e2e_params def;
    crvq_e2e_params_default(&def);
    cli_e2e_usage(f, 0, &def);
    fprintf(f,
            "  --seed S               window sampling and mini-batch order (default 0)\n"
            "  --checkpoint FILE      written after each epoch (default OUT.gguf.e2e; removed on success;\n"
            "                         an existing FILE must be a crvq distillation checkpoint)\n"
            "  --resume               continue from the checkpoint of an interrupted run\n"
            "  --device cpu|cuda      where both models run (default cpu; cuda: both stay on the GPU,\n"
            "                         the forward and backward passes run there)\n"
            "  --quiet                no progress output\n"
            "  --threads N            threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --json                 also print one JSON object as the last line of stdout\n"
            "  -h, --help             this help\n");
}

static const char *cmd = "finetune";

typedef struct opts {
    cli_common c; // -m, -o, --checkpoint, --resume, --threads, --json, --quiet, --seed, windows
    const char *teacher, *data;
    crvq_e2e_params p;
    char ckpt_buf[4096]; // the default checkpoint path, OUT.gguf.e2e
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    crvq_e2e_params *p = &o->p;
    crvq_e2e_params_default(p);
    cli_flag own[2 + CLI_E2E_N_FLAGS] = {
        CLI_FLAG_STRING(NULL, "--teacher", &o->teacher),
        CLI_FLAG_STRING(NULL, "--data", &o->data),
    };
    int n = 2 + cli_e2e_flag_rows(p, 0, own + 2);
    return cli_parse(cmd, argc, argv,
                     CLI_F_MODEL | CLI_F_OUTPUT | CLI_F_CHECKPOINT | CLI_F_RESUME | CLI_F_THREADS | CLI_F_JSON |
                         CLI_F_QUIET | CLI_F_SEED | CLI_F_WINDOWS | CLI_F_DEVICE,
                     &o->c, own, n, usage);
}

static int validate(void *vo) {
    opts *o = vo;
    const cli_common *c = &o->c;
    crvq_e2e_params *p = &o->p;
    if (!c->model || !o->teacher || !o->data || !c->output)
        return cli_error(cmd, "-m QUANTIZED.gguf, --teacher ORIGINAL, --data TEXT and -o OUT.gguf are required");
    p->seed = c->seed;
    p->resume = c->resume;
    p->device = c->device;
    cli_e2e_settle(p);
    if (c->threads) crvq_set_threads(c->threads);
    p->checkpoint = c->checkpoint;
    if (!p->checkpoint) {
        snprintf(o->ckpt_buf, sizeof o->ckpt_buf, "%s.e2e", c->output);
        p->checkpoint = o->ckpt_buf;
    }
    const cli_file files[] = {{"-m", c->model, CLI_MODEL, NULL},
                              {"--teacher", o->teacher, CLI_MODEL, NULL},
                              {"--data", o->data, CLI_INPUT, NULL},
                              {"-o", c->output, CLI_OUTPUT, NULL},
                              {c->checkpoint ? "--checkpoint" : "checkpoint", p->checkpoint, CLI_CHECKPOINT,
                               crvq_e2e_checkpoint_probe}};
    return cli_files(cmd, files, sizeof files / sizeof files[0]);
}

static void print_report(const opts *o, const crvq_e2e_report *rep, double secs) {
    const int64_t rss = cli_peak_rss_bytes();
    printf("wrote %s: %zu parameters tuned, best epoch %d of %d\n", o->c.output, rep->n_params, rep->best_epoch,
           rep->epochs_run);
    printf("validation KL %.5f -> %.5f, perplexity %.3f -> %.3f; %.1f s, peak RSS %.0f MB\n", rep->val_kl_before,
           rep->val_kl_after, rep->val_ppl_before, rep->val_ppl_after, secs, rss / 1e6);
    if (!o->c.json) return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "output", o->c.output);
    cli_e2e_report_json(j, rep, &o->p);
    cJSON_AddNumberToObject(j, "seconds", secs);
    cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)rss);
    cJSON_AddNumberToObject(j, "epochs_run", rep->epochs_run);
    cJSON_AddNumberToObject(j, "epochs_resumed", rep->epochs_resumed);
    cJSON_AddNumberToObject(j, "steps", (double)rep->steps);
    cJSON_AddNumberToObject(j, "n_params", (double)rep->n_params);
    cJSON_AddBoolToObject(j, "train_embeddings", o->p.train_embeddings);
    cli_print_json(j);
}

// Distil t into m on windows of the data, write m with the input's crvq.* record.
static int distil(const opts *o, crvq_model *m, const crvq_model *t, const crvq_calib *cal, double t0) {
    const cli_common *c = &o->c;
    crvq_e2e_params p = o->p;
    cli_e2e_progress pc = {c->quiet, cli_seconds()};
    p.progress = cli_e2e_on_progress;
    p.progress_user = &pc;
    if (!c->quiet)
        fprintf(stderr, "crvq %s: %d training + %d validation windows of %d tokens, %d epoch(s)%s\n", cmd,
                c->nsamples, c->nval, c->seqlen, p.epochs, p.resume && access(p.checkpoint, F_OK) == 0 ? ", resuming" : "");
    crvq_e2e_report rep;
    if (crvq_e2e_finetune(m, t, cal->tokens, c->nsamples, c->nval, c->seqlen, &p, &rep) != CRVQ_OK)
        return cli_error(cmd, NULL);
    crvq_save_record rec; // the input's record, carried over: the loader keeps none of the crvq.* keys
    if (crvq_save_record_read(c->model, &rec) != CRVQ_OK || crvq_model_save(m, &rec.info, c->output) != CRVQ_OK)
        return cli_error(cmd, NULL);
    crvq_guard_remove_checkpoint(p.checkpoint); // the output is complete: the checkpoint has served
    print_report(o, &rep, cli_seconds() - t0);
    return 0;
}

// The teacher of --teacher, checked against the student m (one vocabulary;
// m's tokenizer cuts --data into windows), distilled into m.
static int distil_teacher(const opts *o, crvq_model *m, double t0) {
    crvq_model *t = cli_load_model(cmd, o->teacher, NULL);
    if (!t) return 1;
    int rc = 1;
    crvq_calib cal = {0};
    if (t->cfg.vocab_size != m->cfg.vocab_size) {
        char msg[256];
        snprintf(msg, sizeof msg, "the teacher has %d tokens in its vocabulary, the student %d: not the same model",
                 t->cfg.vocab_size, m->cfg.vocab_size);
        cli_error(cmd, msg);
    } else if (!m->tok) {
        cli_error(cmd, "the quantized model has no tokenizer");
    } else if (crvq_calib_sample(m->tok, o->data, o->c.nsamples, o->c.nval, o->c.seqlen, o->p.seed, &cal) != CRVQ_OK) {
        cli_error(cmd, NULL);
    } else {
        rc = distil(o, m, t, &cal, t0);
    }
    crvq_calib_free(&cal);
    crvq_model_free(t);
    return rc;
}

static int run(const void *vo) {
    const opts *o = vo;
    const double t0 = cli_seconds();
    if (cli_device_ready(cmd, o->c.device, 32)) return 1;
    crvq_model *m = cli_load_model(cmd, o->c.model, NULL);
    if (!m) return 1;
    int rc = distil_teacher(o, m, t0);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_finetune = {"finetune", "distil the original model into a quantized one (codes frozen)",
                            sizeof(opts), parse, validate, run};
