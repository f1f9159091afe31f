// bench_integrity.c — what the input checks cost: the NaN/Inf scan of every
// tensor at load (util/finite.h) and the model digest a quantization
// checkpoint records (pipeline/run_id.h), on a real model and on 1 GiB buffers,
// against the time the load itself takes.
//   bench_integrity MODEL [REPEATS]     (MODEL: e.g. ../shared/models/pg-dev)
#include "crvq.h"
#include "io/mapfile.h"
#include "io/safetensors.h"
#include "pipeline/run_id.h"
#include "util/finite.h"
#include "util/hash.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double best(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_integrity MODEL_DIR [REPEATS]\n");
        return 2;
    }
    const int reps = argc > 2 ? atoi(argv[2]) : 5;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);

    // the scan alone, on the mapped file's tensors (what load does once)
    crvq_mapfile f;
    crvq_safetensors st;
    if (crvq_mapfile_open(path, &f) || crvq_safetensors_parse(path, f.data, f.size, &st)) {
        fprintf(stderr, "%s\n", crvq_last_error());
        return 1;
    }
    size_t bytes = 0;
    for (int i = 0; i < st.n_tensors; i++) bytes += st.tensors[i].nbytes;
    double t_scan = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = omp_get_wtime();
        if (crvq_tensors_check_finite(st.tensors, st.n_tensors, path)) return 1;
        t_scan = best(t_scan, omp_get_wtime() - t0);
    }

    // the whole load, and the model digest of the loaded (float32) model
    double t_load = 1e9, t_digest = 1e9;
    size_t f32_bytes = 0;
    for (int r = 0; r < reps; r++) {
        crvq_model *m;
        double t0 = omp_get_wtime();
        if (crvq_model_load(argv[1], NULL, &m)) {
            fprintf(stderr, "%s\n", crvq_last_error());
            return 1;
        }
        t_load = best(t_load, omp_get_wtime() - t0);
        f32_bytes = (size_t)crvq_model_n_params(m) * 4;
        int tok[2] = {1, 2};
        crvq_calib cal = {.n_train = 1, .n_val = 0, .seqlen = 2, .tokens = tok, .n_text_tokens = 2};
        crvq_pipeline_opts o;
        crvq_pipeline_opts_default(&o, CRVQ_METHOD_CRVQ);
        crvq_run_id id;
        t0 = omp_get_wtime();
        if (crvq_run_id_make(m, &o, &cal, &id)) return 1;
        t_digest = best(t_digest, omp_get_wtime() - t0);
        crvq_model_free(m);
    }
    printf("%s: %d tensors, %.1f MB stored, %.1f MB as float32; %d threads; best of %d\n", argv[1], st.n_tensors,
           bytes / 1e6, f32_bytes / 1e6, omp_get_max_threads(), reps);
    printf("  load (parse, scan, convert)  %8.2f ms\n", 1e3 * t_load);
    printf("  NaN/Inf scan of the file     %8.2f ms  (%.1f GB/s, %.1f%% of the load)\n", 1e3 * t_scan,
           bytes / t_scan / 1e9, 100 * t_scan / t_load);
    printf("  model digest (float32)       %8.2f ms  (%.1f GB/s)\n", 1e3 * t_digest, f32_bytes / t_digest / 1e9);
    crvq_safetensors_free(&st);
    crvq_mapfile_close(&f);

    // throughput on 1 GiB in memory
    const size_t n = (size_t)1 << 30;
    uint8_t *b = malloc(n);
    if (!b) return 1;
    for (size_t i = 0; i < n; i += 2) b[i] = 0x3c, b[i + 1] = 0x3f; // finite f16/bf16/f32 patterns
    double t_bf16 = 1e9, t_f32 = 1e9, t_xxh = 1e9, t_dig = 1e9;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = omp_get_wtime();
        sink += (uint64_t)crvq_first_nonfinite(CRVQ_BF16, b, (int64_t)(n / 2));
        t_bf16 = best(t_bf16, omp_get_wtime() - t0);
        t0 = omp_get_wtime();
        sink += (uint64_t)crvq_first_nonfinite(CRVQ_F32, b, (int64_t)(n / 4));
        t_f32 = best(t_f32, omp_get_wtime() - t0);
        t0 = omp_get_wtime();
        sink += crvq_xxh64(b, n, 0);
        t_xxh = best(t_xxh, omp_get_wtime() - t0);
        t0 = omp_get_wtime();
        sink += crvq_digest(b, n, 0);
        t_dig = best(t_dig, omp_get_wtime() - t0);
    }
    printf("1 GiB in memory: scan bf16 %.1f GB/s, scan f32 %.1f GB/s, XXH64 (one thread) %.1f GB/s, digest %.1f GB/s\n",
           n / t_bf16 / 1e9, n / t_f32 / 1e9, n / t_xxh / 1e9, n / t_dig / 1e9);
    free(b);
    return 0;
}
