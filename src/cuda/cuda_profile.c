// cuda_profile.c — per-label GPU time (see cuda_profile.h).
#include "cuda/cuda_profile.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROFILE_LABELS 512
#define PROFILE_LABEL_LEN 64

typedef struct {
    char what[PROFILE_LABEL_LEN];
    long calls;
    double seconds;
} profile_row;

static struct {
    int state; // 0: environment not read yet, 1: off, 2: on
    double last;
    int n;
    long dropped; // calls whose label found no free row
    profile_row rows[PROFILE_LABELS];
} prof;

// The host's monotonic clock (not cuda_device.c's: that module calls this one).
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int by_seconds_desc(const void *a, const void *b) {
    const profile_row *x = a, *y = b;
    return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

static void profile_report(void) {
    double total = 0;
    for (int i = 0; i < prof.n; i++) total += prof.rows[i].seconds;
    qsort(prof.rows, prof.n, sizeof *prof.rows, by_seconds_desc);
    fprintf(stderr, "cuda profile: %.3f s over %d labels (synchronised after every call)\n", total, prof.n);
    fprintf(stderr, "%10s %6s %10s %12s  %s\n", "seconds", "%", "calls", "us/call", "label");
    for (int i = 0; i < prof.n; i++) {
        const profile_row *r = &prof.rows[i];
        fprintf(stderr, "%10.4f %6.2f %10ld %12.1f  %s\n", r->seconds, total > 0 ? 100 * r->seconds / total : 0,
                r->calls, 1e6 * r->seconds / r->calls, r->what);
    }
    if (prof.dropped) fprintf(stderr, "cuda profile: %ld calls beyond %d labels not counted\n", prof.dropped,
                              PROFILE_LABELS);
}

static profile_row *profile_row_of(const char *what) {
    for (int i = 0; i < prof.n; i++)
        if (strncmp(prof.rows[i].what, what, PROFILE_LABEL_LEN - 1) == 0) return &prof.rows[i];
    if (prof.n == PROFILE_LABELS) return NULL;
    profile_row *r = &prof.rows[prof.n++];
    snprintf(r->what, sizeof r->what, "%s", what);
    return r;
}

int crvq_cu_profile_on(void) {
    if (prof.state == 0) {
        const char *v = getenv("CRVQ_CUDA_PROFILE");
        prof.state = v && *v && strcmp(v, "0") != 0 ? 2 : 1;
        if (prof.state == 2) atexit(profile_report);
        prof.last = -1;
    }
    return prof.state == 2;
}

void crvq_cu_profile_mark(const char *what) {
    if (!crvq_cu_profile_on()) return;
    cudaDeviceSynchronize();
    if (prof.last < 0) { // the first call's time is the set-up before it: not charged
        prof.last = now_seconds();
        return;
    }
    const double now = now_seconds();
    profile_row *r = profile_row_of(what);
    if (r) r->calls++, r->seconds += now - prof.last;
    else prof.dropped++;
    prof.last = now;
}
