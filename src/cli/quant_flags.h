// quant_flags.h — the quantization-method flags shared by `crvq quantize`
// and `crvq quantize-matrix` (--method, -d, -e, -M, --lambda, --bits, ...).
#ifndef CRVQ_CLI_QUANT_FLAGS_H
#define CRVQ_CLI_QUANT_FLAGS_H

#include "cli/cli.h"

#include <stdio.h>

// What the command line set; the rest keep the method's defaults.
typedef struct cli_quant_flags {
    int have_method;
    crvq_method method;
    int bits, group_size, block_size, act_order, d, M, n_e, e[CRVQ_MAX_CODEBOOKS], beam, max_rounds,
        kmeans_iters, cg_iters, importance, order; // cg_iters < 0: the default
    double damp, lambda, tol;
} cli_quant_flags;

void cli_quant_flags_init(cli_quant_flags *f);

// The method flags as rows of a command's flag table (cli/flags.h), setting
// *f: writes CLI_QUANT_N_FLAGS rows, returns their count.
#define CLI_QUANT_N_FLAGS 17
int cli_quant_flag_rows(cli_quant_flags *f, cli_flag *rows);

// The method's defaults with the flags applied. Flags that do not apply to
// the method are usage errors: prints and returns 2; 0 on success.
int cli_quant_params(const char *cmd, const cli_quant_flags *f, uint64_t seed, crvq_quant_params *p);

// The help text of the method flags.
void cli_quant_usage(FILE *f);

int cli_quant_is_scalar(crvq_method m);
void cli_quant_describe(const crvq_quant_params *p, char *buf, size_t cap);
cJSON *cli_quant_params_json(const crvq_quant_params *p);

#endif
