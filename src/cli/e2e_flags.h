// e2e_flags.h — the end-to-end distillation flags and progress lines shared by
// `crvq finetune` (--epochs, --lr, ...) and `crvq quantize`'s last stage
// (the same flags spelled --e2e-epochs, --e2e-lr, ...): one table of
// spellings, bounds and help text, so the two commands cannot drift apart.
#ifndef CRVQ_CLI_E2E_FLAGS_H
#define CRVQ_CLI_E2E_FLAGS_H

#include "cli/flags.h"

#include <cjson/cJSON.h>
#include <stdio.h>

// The flags as rows of a command's flag table, setting *p: prefixed 0 gives
// finetune's spellings, 1 quantize's --e2e-*. Writes CLI_E2E_N_FLAGS rows.
#define CLI_E2E_N_FLAGS 7
int cli_e2e_flag_rows(crvq_e2e_params *p, int prefixed, cli_flag *rows);

// Their help lines in the same spellings, with the defaults of `defaults`.
void cli_e2e_usage(FILE *f, int prefixed, const crvq_e2e_params *defaults);

// A floor above the peak means a constant rate (both commands' validate).
void cli_e2e_settle(crvq_e2e_params *p);

// The distillation report's fields both commands print in their JSON
// (validation perplexity and KL before and after, best epoch, lr, device).
void cli_e2e_report_json(cJSON *obj, const crvq_e2e_report *rep, const crvq_e2e_params *p);

// Progress of distillation on stderr, one line per step and per epoch
// (crvq_e2e_params.progress with progress_user a cli_e2e_progress).
typedef struct cli_e2e_progress {
    int quiet;
    double t0;
} cli_e2e_progress;
void cli_e2e_on_progress(void *ctx, const crvq_e2e_progress *p);

#endif
