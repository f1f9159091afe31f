// check.h — the tiny test harness: CHECK macros, a pass/fail summary, and
// skipping (exit 77) when shared data is missing.
#ifndef CRVQ_CHECK_H
#define CRVQ_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
        }                                                                        \
    } while (0)

// |a - b| <= tol * max(1, |b|)
#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double ca_ = (double)(a), cb_ = (double)(b);                             \
        CHECK_MSG(fabs(ca_ - cb_) <= (tol) * fmax(1.0, fabs(cb_)),               \
                  "%s = %.9g, %s = %.9g", #a, ca_, #b, cb_);                     \
    } while (0)

static inline int check_done(void) {
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

// Path under ../shared (from CRVQ_SHARED); exits 77 (skip) if it is missing.
static inline const char *check_shared(const char *rel) {
    static char buf[8][4096];
    static int slot;
    const char *root = getenv("CRVQ_SHARED");
    char *p = buf[slot++ % 8];
    snprintf(p, 4096, "%s/%s", root ? root : "../shared", rel);
    FILE *f = fopen(p, "rb");
    if (!f) {
        printf("SKIP: %s not found (shared data missing)\n", p);
        exit(77);
    }
    fclose(f);
    return p;
}

#endif
