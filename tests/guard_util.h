// guard_util.h — n bytes that end where an inaccessible page begins, for
// the kernel tests whose loads must not pass the last byte of their input
// (a read past it crashes the test).
#ifndef CRVQ_TEST_GUARD_UTIL_H
#define CRVQ_TEST_GUARD_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct guarded {
    char *base;
    size_t len;
    void *p; // the n bytes; the last one is the last byte before a PROT_NONE page
} guarded;

static inline guarded guarded_alloc(size_t n) {
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (n + pg - 1) / pg * pg;
    guarded g = {0};
    g.len = data + pg;
    g.base = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g.base == MAP_FAILED || mprotect(g.base + data, pg, PROT_NONE)) {
        perror("mmap");
        exit(1);
    }
    g.p = g.base + data - n;
    return g;
}

static inline void guarded_free(guarded *g) { munmap(g->base, g->len); }

#endif
