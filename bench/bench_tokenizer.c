// bench_tokenizer.c — encoding speed of one tokenizer on text files, in the
// calling thread's CPU time (other jobs on a shared machine do not count):
// the best of `reps` runs of crvq_tokenize on each whole file, one line per
// file: "FILE BYTES TOKENS SECONDS MB/s". Loading the tokenizer is timed
// once and printed first ("load SECONDS").
//
//   bench_tokenizer TOKENIZER REPS FILE...
#include "crvq.h"
#include "io/mapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER REPS FILE...\n");
        return 2;
    }
    crvq_tokenizer *t;
    double t0 = cpu_seconds();
    if (crvq_tokenizer_load(argv[1], &t) != CRVQ_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", crvq_last_error());
        return 1;
    }
    printf("load %.3f\n", cpu_seconds() - t0);
    int reps = atoi(argv[2]);
    for (int f = 3; f < argc; f++) {
        char *text;
        size_t len, n = 0;
        if (crvq_read_file(argv[f], &text, &len) != CRVQ_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", crvq_last_error());
            return 1;
        }
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            int *ids;
            double s = cpu_seconds();
            if (crvq_tokenize(t, text, len, 0, &ids, &n) != CRVQ_OK) {
                fprintf(stderr, "bench_tokenizer: %s\n", crvq_last_error());
                return 1;
            }
            double dt = cpu_seconds() - s;
            if (dt < best) best = dt;
            free(ids);
        }
        printf("%s %zu %zu %.4f %.2f\n", argv[f], len, n, best, (double)len / best / 1e6);
        free(text);
    }
    crvq_tokenizer_free(t);
    return 0;
}
