// buf_util.h — a growable byte buffer for the tests that build files in
// memory (safetensors files and indexes, tokenizer.json): bytes and printf
// text appended; kept NUL-terminated so that a text builder's p is a string.
#ifndef CRVQ_TEST_BUF_UTIL_H
#define CRVQ_TEST_BUF_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_buf {
    char *p;
    size_t n, cap;
} test_buf;

static inline void test_put(test_buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
}

static inline void test_putf(test_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void test_putf(test_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *tmp = NULL;
    int n = vasprintf(&tmp, fmt, ap);
    va_end(ap);
    if (n >= 0) test_put(b, tmp, (size_t)n);
    free(tmp);
}

#endif
