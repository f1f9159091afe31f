// e2e_flags.c — the distillation flags of finetune and quantize (e2e_flags.h).
#include "cli/e2e_flags.h"
#include "cli/cli.h"

#include <string.h>

// Both spellings of each flag, its value's name and its help; the rows'
// bounds are in cli_e2e_flag_rows, the defaults printed from the params.
enum { E_EPOCHS, E_LR, E_MIN_LR, E_WARMUP, E_BATCH, E_ACCUM, E_EMB };
static const struct {
    const char *plain, *prefixed, *value, *help;
} e2e_flags[CLI_E2E_N_FLAGS] = {
    [E_EPOCHS] = {"--epochs", "--e2e-epochs", "N", "passes over the training windows"},
    [E_LR] = {"--lr", "--e2e-lr", "F", "peak Adam learning rate"},
    [E_MIN_LR] = {"--min-lr", "--e2e-min-lr", "F", "end of the cosine decay"},
    [E_WARMUP] = {"--warmup", "--e2e-warmup", "N", "optimizer steps of linear warm-up"},
    [E_BATCH] = {"--batch", "--e2e-batch", "N", "sequences per mini-batch"},
    [E_ACCUM] = {"--accum", "--e2e-accum", "N", "mini-batches per optimizer step"},
    [E_EMB] = {"--train-embeddings", "--e2e-train-embeddings", NULL,
               "also tune the token embedding / output head (tied: one matrix)"},
};

static const char *name_of(int i, int prefixed) { return prefixed ? e2e_flags[i].prefixed : e2e_flags[i].plain; }

int cli_e2e_flag_rows(crvq_e2e_params *p, int prefixed, cli_flag *rows) {
    rows[E_EPOCHS] = (cli_flag)CLI_FLAG_INT(NULL, name_of(E_EPOCHS, prefixed), &p->epochs, 0, 100000);
    rows[E_LR] = (cli_flag)CLI_FLAG_DOUBLE(NULL, name_of(E_LR, prefixed), &p->lr, 1e-12, 1);
    rows[E_MIN_LR] = (cli_flag)CLI_FLAG_DOUBLE(NULL, name_of(E_MIN_LR, prefixed), &p->min_lr, 0, 1);
    rows[E_WARMUP] = (cli_flag)CLI_FLAG_INT(NULL, name_of(E_WARMUP, prefixed), &p->warmup, 0, 1 << 30);
    rows[E_BATCH] = (cli_flag)CLI_FLAG_INT(NULL, name_of(E_BATCH, prefixed), &p->batch, 1, 1 << 20);
    rows[E_ACCUM] = (cli_flag)CLI_FLAG_INT(NULL, name_of(E_ACCUM, prefixed), &p->accum, 1, 1 << 20);
    rows[E_EMB] = (cli_flag)CLI_FLAG_SET(NULL, name_of(E_EMB, prefixed), &p->train_embeddings);
    return CLI_E2E_N_FLAGS;
}

void cli_e2e_usage(FILE *f, int prefixed, const crvq_e2e_params *def) {
    for (int i = 0; i < CLI_E2E_N_FLAGS; i++) {
        char left[64], dflt[48] = "";
        snprintf(left, sizeof left, "%s%s%s", name_of(i, prefixed), e2e_flags[i].value ? " " : "",
                 e2e_flags[i].value ? e2e_flags[i].value : "");
        switch (i) {
        case E_EPOCHS: snprintf(dflt, sizeof dflt, " (default %d%s)", def->epochs, def->epochs ? "" : ": off"); break;
        case E_LR: snprintf(dflt, sizeof dflt, " (default %g)", def->lr); break;
        case E_MIN_LR: snprintf(dflt, sizeof dflt, " (default %g)", def->min_lr); break;
        case E_WARMUP: snprintf(dflt, sizeof dflt, " (default %d)", def->warmup); break;
        case E_BATCH: snprintf(dflt, sizeof dflt, " (default %d)", def->batch); break;
        case E_ACCUM: snprintf(dflt, sizeof dflt, " (default %d)", def->accum); break;
        }
        fprintf(f, "  %-22s %s%s\n", left, e2e_flags[i].help, dflt);
    }
}

void cli_e2e_settle(crvq_e2e_params *p) {
    if (p->min_lr > p->lr) p->min_lr = p->lr;
}

void cli_e2e_report_json(cJSON *obj, const crvq_e2e_report *rep, const crvq_e2e_params *p) {
    cJSON_AddNumberToObject(obj, "val_ppl_before", rep->val_ppl_before);
    cJSON_AddNumberToObject(obj, "val_ppl_after", rep->val_ppl_after);
    cJSON_AddNumberToObject(obj, "val_kl_before", rep->val_kl_before);
    cJSON_AddNumberToObject(obj, "val_kl_after", rep->val_kl_after);
    cJSON_AddNumberToObject(obj, "best_epoch", rep->best_epoch);
    cJSON_AddNumberToObject(obj, "lr", p->lr);
    cJSON_AddStringToObject(obj, "device", crvq_device_name(p->device));
}

void cli_e2e_on_progress(void *vctx, const crvq_e2e_progress *p) {
    const cli_e2e_progress *ctx = vctx;
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
