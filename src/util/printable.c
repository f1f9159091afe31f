// printable.c — one-line-safe copies of strings read from files.
#include "util/printable.h"

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

const char *crvq_printable(char *buf, size_t cap, const char *s, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) buf[i] = is_control((unsigned char)s[i]) ? '?' : s[i];
    buf[n] = 0;
    return buf;
}

int crvq_has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i])) return 1;
    return 0;
}
