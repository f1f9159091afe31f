// cmd_bench.c — `crvq bench`: prefill and decode speed of the forward pass,
// and the prefill's arithmetic rate next to this machine's plain sgemm rate.
#include "cli/cli.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq bench -m MODEL [options]\n\n"
            "Times a prefill of N seeded random tokens (one batch, last-row logits) and the\n"
            "decoding of G more tokens one at a time through the KV cache; reports the median\n"
            "over the repetitions. Prefill GFLOP/s counts the useful work (linear layers,\n"
            "causal attention, output head for the last row) and is compared with cblas_sgemm\n"
            "timed on this machine at the shape of the feed-forward projections (N x dim times\n"
            "dim x hidden). Decode GB/s is the weights one step reads (linear layers in their\n"
            "runtime form: float32 dense, compressed ones as stored; the output head) per\n"
            "token over the decode time. These rates are in wall-clock time at every thread\n"
            "count, so that runs at different --threads compare. Next to them: the CPU seconds\n"
            "of the process (all its threads, spin-waiting included) and tokens per CPU second;\n"
            "at one thread that is the speed of an idle core even on a shared machine, at more\n"
            "threads CPU over wall seconds is how many cores the run kept busy.\n"
            "--json prints prefill_seconds, prefill_tps, decode_seconds, decode_tps (wall) and\n"
            "prefill_cpu_seconds, prefill_cpu_tps, decode_cpu_seconds, decode_cpu_tps.\n"
            "With --device cuda the model runs on the GPU (docs/cuda.md, \"Serving\"): every call\n"
            "ends with its logits copied back, so the wall times are the GPU's; the sgemm\n"
            "comparison (a CPU figure) is left out.\n\n"
            "options:\n"
            "  -m, --model PATH     model: Hugging Face directory, GGUF or llama2.c .bin\n"
            "  --prompt-len N       prefill tokens (default: min(512, model context))\n"
            "  --gen G              decoded tokens (default 128)\n"
            "  --reps R             repetitions (default 3)\n"
            "  --seed S             seed of the random tokens (default 1)\n"
            "  --threads N          threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            CLI_KV_BITS_HELP
            "  --device cpu|cuda    where the forward pass runs (default cpu)\n"
            "  --json               print the result as one JSON line\n"
            "  -h, --help           this help\n");
}

static const char *cmd = "bench";

// Process CPU time: every thread of the process, OpenMP's and OpenBLAS's
// workers included, and their spin-waiting with them.
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median GFLOP/s of C (M, N) = A (M, K) Bᵀ, the call crvq_linear_forward makes.
static double sgemm_gflops(int M, int N, int K, int reps) {
    float *A = malloc((size_t)M * K * sizeof *A), *B = malloc((size_t)N * K * sizeof *B);
    float *C = malloc((size_t)M * N * sizeof *C);
    double *t = malloc((size_t)reps * sizeof *t), g = 0.0;
    if (A && B && C && t) {
        crvq_sample_rng r;
        crvq_sample_rng_seed(&r, 7);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = crvq_sample_rng_float(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) B[i] = crvq_sample_rng_float(&r) - 0.5f;
        for (int rep = -1; rep < reps; rep++) { // rep -1 warms up
            double t0 = cli_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
            if (rep >= 0) t[rep] = cli_seconds() - t0;
        }
        g = 2.0 * M * N * K / median(t, reps) / 1e9;
    }
    free(A), free(B), free(C), free(t);
    return g;
}

typedef struct opts {
    cli_common c; // -m, --seed (default 1), --threads, --json
    int prompt_len, n_gen, reps;
} opts;

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    *o = (opts){.n_gen = 128, .reps = 3};
    cli_common_default(&o->c);
    o->c.seed = 1;
    const cli_flag own[] = {
        CLI_FLAG_INT(NULL, "--prompt-len", &o->prompt_len, 2, 1 << 20),
        CLI_FLAG_INT(NULL, "--gen", &o->n_gen, 1, 1 << 20),
        CLI_FLAG_INT(NULL, "--reps", &o->reps, 1, 1000),
    };
    return cli_parse(cmd, argc, argv, CLI_F_MODEL | CLI_F_SEED | CLI_F_THREADS | CLI_F_JSON | CLI_F_KV_BITS | CLI_F_DEVICE,
                     &o->c, own,
                     sizeof own / sizeof *own, usage);
}

static int validate(void *vo) {
    const opts *o = vo;
    return cli_need_model(cmd, o->c.model);
}

// Median seconds of the prefill and of the decoding, over o->reps
// repetitions: wall-clock and process CPU, each its own median.
typedef struct timings {
    double prefill, decode, prefill_cpu, decode_cpu;
    double kv_bytes; // the state's KV cache
} timings;

// Time the prefill of tok[0, prompt_len) and the decoding of the next n_gen.
static int time_forward(const opts *o, const crvq_model *m, int prompt_len, timings *out) {
    const crvq_config *c = &m->cfg;
    int max_seq = prompt_len + o->n_gen, reps = o->reps, rc = 1;
    int *tok = malloc((size_t)max_seq * sizeof *tok);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    double *t = malloc(4 * (size_t)reps * sizeof *t); // wall prefill, decode; CPU prefill, decode
    crvq_state *s = NULL;
    if (!tok || !logits || !t) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    if (crvq_state_init_device(m, max_seq, prompt_len, o->c.kv_bits, o->c.device, &s) != CRVQ_OK) goto fail;
    out->kv_bytes = (double)crvq_state_kv_bytes(s);
    crvq_sample_rng rng;
    crvq_sample_rng_seed(&rng, o->c.seed);
    for (int i = 0; i < max_seq; i++) tok[i] = (int)(crvq_sample_rng_next(&rng) % (uint64_t)c->vocab_size);
    for (int rep = -1; rep < reps; rep++) { // rep -1 warms up (page faults, BLAS pools)
        double t0 = cli_seconds(), c0 = cpu_seconds();
        if (crvq_forward(m, s, tok, prompt_len, 0, 0, logits) != CRVQ_OK) goto fail;
        double t1 = cli_seconds(), c1 = cpu_seconds();
        for (int i = 0; i < o->n_gen && rep >= 0; i++)
            if (crvq_forward(m, s, tok + prompt_len + i, 1, prompt_len + i, 0, logits) != CRVQ_OK) goto fail;
        if (rep >= 0) {
            t[rep] = t1 - t0, t[reps + rep] = cli_seconds() - t1;
            t[2 * reps + rep] = c1 - c0, t[3 * reps + rep] = cpu_seconds() - c1;
        }
    }
    *out = (timings){median(t, reps), median(t + reps, reps), median(t + 2 * reps, reps), median(t + 3 * reps, reps),
                     out->kv_bytes};
    rc = 0;
    goto done;
fail:
    cli_error(cmd, NULL);
done:
    crvq_state_free(s);
    free(tok), free(logits), free(t);
    return rc;
}

static void print_result(const opts *o, const crvq_model *m, int prompt_len, timings t) {
    const crvq_config *c = &m->cfg;
    // useful work of the prefill: linear layers on every row, causal
    // attention (Q Kᵀ and P V over keys 0..i for row i), head on the last row
    double n = prompt_len, pre = t.prefill, dec = t.decode, pre_cpu = t.prefill_cpu, dec_cpu = t.decode_cpu;
    double flops = 2.0 * n * (double)crvq_model_n_params_linear(m) +
                   4.0 * c->n_layers * c->n_heads * c->head_dim * (n * (n + 1) / 2) +
                   2.0 * c->dim * c->vocab_size;
    double pre_gflops = flops / pre / 1e9;
    const int cpu = o->c.device == CRVQ_DEVICE_CPU;
    double ref_gflops = cpu ? sgemm_gflops(prompt_len, c->hidden_dim, c->dim, o->reps < 5 ? 5 : o->reps) : 0.0;
    double weight_bytes = crvq_model_decode_bytes(m);
    double dec_gbps = weight_bytes * o->n_gen / dec / 1e9;
    if (!o->c.json) {
        printf("prefill: %d tokens in %.4f s = %.1f tok/s, %.2f GFLOP/s", prompt_len, pre, prompt_len / pre,
               pre_gflops);
        if (cpu)
            printf(" (%.0f%% of sgemm %dx%dx%d at %.2f GFLOP/s)", 100.0 * pre_gflops / ref_gflops, prompt_len,
                   c->hidden_dim, c->dim, ref_gflops);
        printf(" [%s]\n", crvq_device_name(o->c.device));
        printf("decode:  %d tokens after %d in %.4f s = %.1f tok/s (weights read at %.2f GB/s)\n", o->n_gen,
               prompt_len, dec, o->n_gen / dec, dec_gbps);
        printf("process CPU seconds (%d threads): prefill %.4f s = %.1f tok/s, decode %.4f s = %.1f tok/s\n",
               crvq_get_threads(), pre_cpu, prompt_len / pre_cpu, dec_cpu, o->n_gen / dec_cpu);
        printf("KV cache: %d-bit, %.2f MiB for %d positions\n", o->c.kv_bits, t.kv_bytes / 1048576.0,
               prompt_len + o->n_gen);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->c.model);
    cJSON_AddNumberToObject(j, "threads", crvq_get_threads());
    cJSON_AddStringToObject(j, "clock", "wall");
    cJSON_AddNumberToObject(j, "prompt_len", prompt_len);
    cJSON_AddNumberToObject(j, "gen", o->n_gen);
    cJSON_AddNumberToObject(j, "reps", o->reps);
    cJSON_AddNumberToObject(j, "prefill_seconds", pre);
    cJSON_AddNumberToObject(j, "prefill_tps", prompt_len / pre);
    cJSON_AddNumberToObject(j, "decode_seconds", dec);
    cJSON_AddNumberToObject(j, "decode_tps", o->n_gen / dec);
    cJSON_AddNumberToObject(j, "prefill_cpu_seconds", pre_cpu);
    cJSON_AddNumberToObject(j, "prefill_cpu_tps", prompt_len / pre_cpu);
    cJSON_AddNumberToObject(j, "decode_cpu_seconds", dec_cpu);
    cJSON_AddNumberToObject(j, "decode_cpu_tps", o->n_gen / dec_cpu);
    cJSON_AddNumberToObject(j, "prefill_gflops", pre_gflops);
    if (cpu) {
        cJSON_AddNumberToObject(j, "sgemm_gflops", ref_gflops);
        cJSON *shape = cJSON_AddArrayToObject(j, "sgemm_mnk");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(prompt_len));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(c->hidden_dim));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(c->dim));
        cJSON_AddNumberToObject(j, "prefill_sgemm_fraction", pre_gflops / ref_gflops);
    }
    cJSON_AddNumberToObject(j, "decode_weight_bytes", weight_bytes);
    cJSON_AddNumberToObject(j, "decode_weight_gbps", dec_gbps);
    cJSON_AddNumberToObject(j, "kv_bits", o->c.kv_bits);
    cJSON_AddNumberToObject(j, "kv_cache_bytes", t.kv_bytes);
    cJSON_AddStringToObject(j, "device", crvq_device_name(o->c.device));
    cli_print_json(j);
}

static int run(const void *vo) {
    const opts *o = vo;
    crvq_model *m = cli_open_for_inference(cmd, &o->c, NULL);
    if (!m) return 1;
    const crvq_config *c = &m->cfg;
    int prompt_len = o->prompt_len ? o->prompt_len : c->max_seq_len < 512 ? c->max_seq_len : 512;
    if (prompt_len < 2) prompt_len = 2;
    if (prompt_len + o->n_gen > c->max_seq_len)
        fprintf(stderr, "crvq bench: warning: %d + %d tokens exceed the context length %d the model declares\n",
                prompt_len, o->n_gen, c->max_seq_len);
    timings t;
    int rc = time_forward(o, m, prompt_len, &t);
    if (!rc) print_result(o, m, prompt_len, t);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_bench = {"bench", "prefill and decode speed of the forward pass",
                            sizeof(opts), parse, validate, run};
