// cli.h — shared pieces of the command-line front end: one file per
// subcommand (cmd_*.c), each an `int cmd_x(int argc, char **argv)` returning
// the process exit code (0 ok, 1 error, 2 usage error).
#ifndef CRVQ_CLI_H
#define CRVQ_CLI_H

#include "cli/flags.h"
#include "crvq.h"

#include <cjson/cJSON.h>
#include <stdint.h>

// A subcommand, in one shape. parse: the defaults, then the flags
// (cli_parse; argv[0] is the subcommand's name); returns CLI_GO to go on,
// else the exit code (0 after --help). validate: what the flags mean
// together, and the files they name (cli_files); 0 to go on. run: the work.
// Each takes the command's own options struct, opts_size bytes, zeroed.
typedef struct cli_command {
    const char *name, *summary;
    size_t opts_size;
    int (*parse)(void *opts, int argc, char **argv);
    int (*validate)(void *opts);
    int (*run)(const void *opts);
} cli_command;

extern const cli_command cli_info, cli_tokenize, cli_perplexity, cli_generate, cli_bench, cli_quantize,
    cli_finetune, cli_quantize_matrix, cli_export;

// Print "crvq CMD: error: MSG" (the library's last error when msg is NULL); return 1.
int cli_error(const char *cmd, const char *msg);

// The usage check of commands that cannot run without -m: 0 when model is
// given, else print "no model given" and return 2 (a usage error).
int cli_need_model(const char *cmd, const char *model);

// Before any input is read: 0 when --device `dev` can run here with a KV
// cache of kv_bits (the GPU keeps float32 only: 32), else print
// "--device D: why" and return 1.
int cli_device_ready(const char *cmd, crvq_device dev, int kv_bits);

// Load a model from -m (and --tokenizer); on failure print the error, return NULL.
crvq_model *cli_load_model(const char *cmd, const char *model_path, const char *tokenizer_path);

// The start of every command that runs a model (perplexity, generate,
// bench): --threads, the device check for c->device and c->kv_bits, then
// the model of -m with `tokenizer_path` (NULL: the one the model carries).
crvq_model *cli_open_for_inference(const char *cmd, const cli_common *c, const char *tokenizer_path);

// The i-th tensor that may be compressed (0 <= i < cli_n_tensor_slots(m)):
// the projections of every block in order, then the output head and the
// token embedding; 1 with its name and layer when it is compressed, else 0.
int cli_compressed_tensor(const crvq_model *m, int i, char *name, size_t cap, crvq_linear *lin);
int cli_n_tensor_slots(const crvq_model *m);
// Those compressed, as a JSON array of their settings and bits per weight.
cJSON *cli_layers_json(const crvq_model *m);

// Print `obj` as one line on stdout and free it.
void cli_print_json(cJSON *obj);

// The files a command reads and writes (util/fileguard.h). A NULL path is
// skipped; probe: for CLI_CHECKPOINT, what a crvq checkpoint looks like.
enum { CLI_INPUT, CLI_MODEL /* a file or an HF directory */, CLI_OUTPUT, CLI_CHECKPOINT };
typedef struct cli_file {
    const char *flag, *path;
    int role;
    int (*probe)(const char *path);
} cli_file;
// Register and validate them (outputs locked until exit) before any work;
// on a problem print it and return 1. cli_load_model checks the outputs
// again against the files the model turned out to read.
int cli_files(const char *cmd, const cli_file *files, int n);

// Unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, execute crvq
// again with OMP_WAIT_POLICY=passive (see omp_wait.c); returns when it did not.
void cli_default_omp_wait(char **argv);

double cli_seconds(void); // monotonic clock
int64_t cli_peak_rss_bytes(void);

#endif
